// `plasticity worker [--queues orchestrator,gpu,cpu] [--queue-prefix P] [--shutdown-grace 2m] [--log-level INFO]`
// (cli/worker-options.ts, the same flags as the deploy entry point workers/main.ts): serves lineage
// task queues until SIGTERM/SIGINT. On the first signal the running training step checkpoints and the workers
// drain (bounded by --shutdown-grace); a second Ctrl-C exits at once.
// Exit code: 0 after a graceful stop, 1 when a worker fails, 2 bad options, 5 unreachable server.
import { Command } from 'commander';
import { connectNative, describeConnectionSettings } from '../../temporal/connection';
import { isServerListening } from '../../temporal/dev-server';
import { installRuntimeLogger, startWorkers } from '../../workers/run-worker';
import { queuePrefix, queuesFor } from '../options';
import { cliConnectionSettings, unreachable } from '../temporal-access';
import { addWorkerOptions, workerArgs, type WorkerFlags } from '../worker-options';

export function register(program: Command): void {
  addWorkerOptions(program.command('worker').description('run lineage workers (workflows, heavy ML activities, light activities) until Ctrl-C / SIGTERM'))
    .action(async (flags: WorkerFlags) => {
      const args = workerArgs(flags);
      const roles = args.queues;
      const prefix = queuePrefix(args.prefix);
      const names = queuesFor(prefix);
      const settings = cliConnectionSettings();
      if (!(await isServerListening(settings.address, 2000))) throw unreachable(settings, 'nothing accepts connections there');
      installRuntimeLogger(args.logLevel);
      let connection;
      try {
        connection = await connectNative(settings);
      } catch (err) {
        throw unreachable(settings, (err as Error).message);
      }
      const log = (m: string) => process.stderr.write(`${m}\n`);
      try {
        const running = await startWorkers({ queues: roles, taskQueuePrefix: prefix, connection, shutdownGraceTime: args.shutdownGraceMs, log });
        process.stdout.write(`worker: connected to ${describeConnectionSettings(settings)}; serving ${roles.map((r) => names[r]).join(', ')}\n`);
        process.stdout.write('worker: stop with Ctrl-C or SIGTERM (the running step checkpoints first)\n');
        await running.done;
        process.stdout.write('worker: stopped\n');
      } finally {
        await connection.close();
      }
    });
}
