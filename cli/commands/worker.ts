// `plasticity worker [--queues orchestrator,gpu,cpu] [--queue-prefix P] [--shutdown-grace 2m]`: serves lineage
// task queues until SIGTERM/SIGINT. On the first signal the running training step checkpoints and the workers
// drain (bounded by --shutdown-grace); a second Ctrl-C exits at once.
// Exit code: 0 after a graceful stop, 1 when a worker fails, 2 bad options, 5 unreachable server.
import { Command } from 'commander';
import { msToNumber } from '@temporalio/common/lib/time';
import { QUEUE_ROLES } from '../../contract/lineage';
import { connectNative, describeConnectionSettings } from '../../temporal/connection';
import { isServerListening } from '../../temporal/dev-server';
import { startWorkers } from '../../workers/run-worker';
import { CliError } from '../errors';
import { parseQueueRoles, queuePrefix, queuesFor } from '../options';
import { cliConnectionSettings, unreachable } from '../temporal-access';

interface WorkerOptions {
  queues: string;
  queuePrefix?: string;
  shutdownGrace: string;
}

export function register(program: Command): void {
  program
    .command('worker')
    .description('run lineage workers (workflows, heavy ML activities, light activities) until Ctrl-C / SIGTERM')
    .option('--queues <list>', `which queues to serve: ${QUEUE_ROLES.join(', ')}`, QUEUE_ROLES.join(','))
    .option('--queue-prefix <prefix>', 'task-queue prefix (default PLASTICITY_TASK_QUEUE_PREFIX or "plasticity")')
    .option('--shutdown-grace <duration>', 'how long a stop waits for the running step to checkpoint', '2m')
    .action(async (opts: WorkerOptions) => {
      const roles = parseQueueRoles(opts.queues);
      const prefix = queuePrefix(opts.queuePrefix);
      const names = queuesFor(prefix);
      const graceMs = parseDuration(opts.shutdownGrace, '--shutdown-grace');
      const settings = cliConnectionSettings();
      if (!(await isServerListening(settings.address, 2000))) throw unreachable(settings, 'nothing accepts connections there');
      let connection;
      try {
        connection = await connectNative(settings);
      } catch (err) {
        throw unreachable(settings, (err as Error).message);
      }
      const log = (m: string) => process.stderr.write(`${m}\n`);
      try {
        const running = await startWorkers({ queues: roles, taskQueuePrefix: prefix, connection, shutdownGraceTime: graceMs, log });
        process.stdout.write(`worker: connected to ${describeConnectionSettings(settings)}; serving ${roles.map((r) => names[r]).join(', ')}\n`);
        process.stdout.write('worker: stop with Ctrl-C or SIGTERM (the running step checkpoints first)\n');
        await running.done;
        process.stdout.write('worker: stopped\n');
      } finally {
        await connection.close();
      }
    });
}

/** `2m`, `30s`, `1500ms` → milliseconds (Temporal's duration syntax). */
function parseDuration(value: string, flag: string): number {
  try {
    return msToNumber(value as Parameters<typeof msToNumber>[0]);
  } catch {
    throw new CliError(`${flag}: expected a duration such as 30s or 2m, got ${JSON.stringify(value)}`);
  }
}
