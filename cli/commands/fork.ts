// `plasticity fork ID --from STAGE --set key=value ... [--detach] [--no-worker]`: a new lineage from lineage ID's
// config with the overrides, reusing ID's stages before STAGE and diverging there. The fork's result and report
// link the parent. Server and worker as in `run`.
import { Command } from 'commander';
import { ConfigError } from '../../config/load';
import { forkLineage } from '../../temporal/fork-client';
import { CliError, EXIT } from '../errors';
import { EXIT_INTERRUPTED, presentRun } from '../launch';
import { openSession } from '../lineage-session';
import { queuePrefix, queuesFor } from '../options';
import { asCliError } from '../temporal-access';

export function register(program: Command): void {
  program
    .command('fork')
    .description("start a lineage that reuses another's stages up to STAGE and diverges there with --set changes")
    .argument('<id>', 'workflow id of the parent lineage')
    .requiredOption('--from <stage>', 'first stage of the fork that is not reused (e.g. corrupt, retrain)')
    .option('--set <key=value>', 'config change of the fork (repeatable)', (v: string, prev: string[] = []) => [...prev, v])
    .option('--detach', 'return once the fork has started')
    .option('--json', 'machine-readable output: one JSON event per line')
    .option('--no-worker', 'do not run workers in this process')
    .option('--queue-prefix <prefix>', 'task-queue prefix')
    .action(async (id: string, opts: { from: string; set?: string[]; detach?: boolean; json?: boolean; worker: boolean; queuePrefix?: string }) => {
      const log = (m: string) => process.stderr.write(`${m}\n`);
      const session = await openSession({ detach: !!opts.detach, worker: opts.worker, log });
      try {
        const prefix = queuePrefix(opts.queuePrefix);
        const queues = queuesFor(prefix);
        await session.provideWorker(prefix, queues);
        let forked;
        try {
          forked = await forkLineage(session.client, id, { from: opts.from, set: opts.set ?? [], queues });
        } catch (err) {
          if (err instanceof ConfigError) throw new CliError(err.message, EXIT.usage);
          throw asCliError(err, id);
        }
        const notes = [`fork of ${id} at ${opts.from} (${(opts.set ?? []).join(' ') || 'no changes'}); offering ${forked.offered.join(', ') || 'no stage'} for reuse`];
        process.exitCode = await presentRun(session, forked.workflowId, { detach: opts.detach, json: opts.json, notes });
      } finally {
        await session.close({ interrupted: process.exitCode === EXIT_INTERRUPTED });
      }
    });
}
