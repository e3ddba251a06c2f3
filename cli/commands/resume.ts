// `plasticity resume ID [--detach] [--json] [--no-worker] [--queue-prefix P]`: continues a failed, cancelled,
// terminated or timed-out lineage as a new run that reuses every completed stage and the last checkpoint of the
// interrupted one (same config, code version and queues unless --queue-prefix is given). Server and worker as in
// `run`. Exit code: as `run`; 2 when the run is still running or completed, 3 unknown id.
import { Command } from 'commander';
import { SWEEP_WORKFLOW_TYPE } from '../../contract/sweep';
import { resumeSweep } from '../../temporal/sweep-client';
import { followSweep } from './sweep';
import { resumeLineage } from '../../temporal/lineage-client';
import { CliError, EXIT } from '../errors';
import { EXIT_INTERRUPTED, presentRun } from '../launch';
import { openSession } from '../lineage-session';
import { queuesFor } from '../options';
import { CLOSED_FOR_RESUME, asCliError, describeRun, statusWord } from '../temporal-access';

interface ResumeOptions {
  detach?: boolean;
  json?: boolean;
  worker: boolean;
  queuePrefix?: string;
}

const ORCHESTRATOR_SUFFIX = '-orchestrator';

export function register(program: Command): void {
  program
    .command('resume')
    .description('continue a failed, cancelled, terminated or timed-out lineage, reusing its completed stages')
    .argument('<id>', 'workflow id of the stopped run')
    .option('--detach', 'return once the new run has started')
    .option('--json', 'machine-readable output: one JSON event per line')
    .option('--no-worker', 'do not run workers in this process (default: run them when the server is local)')
    .option('--queue-prefix <prefix>', "task-queue prefix (default: the stopped run's)")
    .action(async (id: string, opts: ResumeOptions) => {
      const log = (m: string) => process.stderr.write(`${m}\n`);
      const session = await openSession({ detach: !!opts.detach, worker: opts.worker, log });
      try {
        const { description } = await describeRun(session.client, id);
        const status = description.status.name;
        if (status === 'RUNNING') throw new CliError(`resume: ${id} is still running; follow it with \`plasticity watch ${id}\` or stop it with \`plasticity cancel ${id}\` first`, EXIT.usage);
        if (!CLOSED_FOR_RESUME.includes(status)) throw new CliError(`resume: ${id} is ${statusWord(status)}; only failed, cancelled, terminated or timed-out runs can be resumed`, EXIT.usage);
        // Workers must serve the queues the new run uses: the stopped run's, unless --queue-prefix says otherwise.
        const queues = opts.queuePrefix ? queuesFor(opts.queuePrefix) : undefined;
        const prefix = opts.queuePrefix ?? prefixOf(description.taskQueue);
        await session.provideWorker(prefix, queues ?? queuesFor(prefix));
        if (description.type === SWEEP_WORKFLOW_TYPE) {
          const r = await resumeSweep(session.client, id).catch((err) => {
            throw asCliError(err, id);
          });
          process.stderr.write(`resuming sweep ${id} as ${r.workflowId}: ${r.carried.length} points completed before, ${r.reusing.length} continue from their stages\n`);
          process.stdout.write(`sweep ${r.workflowId}\n`);
          process.exitCode = opts.detach ? EXIT.ok : await followSweep(session.client, r.workflowId, { json: opts.json });
          return;
        }
        let resumed;
        try {
          resumed = await resumeLineage(session.client, id, queues ? { queues } : {});
        } catch (err) {
          throw asCliError(err, id);
        }
        const notes = [
          `resuming ${id} (${statusWord(status)}) as ${resumed.workflowId}`,
          `reusing ${resumed.reused.length ? resumed.reused.join(', ') : 'no completed stage'}`,
          ...(resumed.lastCheckpoint ? [`continuing ${resumed.lastCheckpoint.stage} from its checkpoint at step ${resumed.lastCheckpoint.step}`] : []),
        ];
        process.exitCode = await presentRun(session, resumed.workflowId, { detach: opts.detach, json: opts.json, notes, queuePrefix: prefix });
      } finally {
        await session.close({ interrupted: process.exitCode === EXIT_INTERRUPTED });
      }
    });
}

/** `<prefix>-orchestrator` → prefix (the lineage's workflow task queue names the prefix). */
function prefixOf(taskQueue: string): string {
  if (!taskQueue.endsWith(ORCHESTRATOR_SUFFIX)) throw new CliError(`resume: unexpected task queue ${taskQueue}; pass --queue-prefix`, EXIT.usage);
  return taskQueue.slice(0, -ORCHESTRATOR_SUFFIX.length);
}
