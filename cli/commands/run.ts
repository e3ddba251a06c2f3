// `plasticity run [CONFIG] [--set key=value]... [--detach] [--json] [--no-worker] [--queue-prefix P]`
// Starts a lineage: validates the config here first (exit 2 naming the field), finds or starts a Temporal server
// and, when the server is local, runs the workers in this process (see cli/lineage-session.ts for the rule),
// prints the plan's one-line summary (cli/plan.ts: stages to run / cached, estimated time, store growth), the
// workflow id and Web UI link, then shows live progress until the run closes and prints a summary.
// Without CONFIG it runs configs/default.yaml (the defaults). Exit code: 0 completed (or started, with --detach),
// 1 failed, 2 bad config/usage, 4 cancelled/terminated, 5 server unreachable, 130 interrupted (run goes on).
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Command } from 'commander';
import { checkConfigResources } from '../../config/check';
import { ConfigError, loadConfig, type LoadedConfig } from '../../config/load';
import { startLineage } from '../../temporal/lineage-client';
import { projectRoot } from '../../temporal/project-root';
import { CliError, EXIT } from '../errors';
import { EXIT_INTERRUPTED, presentRun } from '../launch';
import { openSession } from '../lineage-session';
import { queuePrefix, queuesFor } from '../options';
import { planSummaryLine } from '../plan';
import { DEFAULT_QUEUE_PREFIX } from '../../contract/lineage';

export interface RunOptions {
  set?: string[];
  detach?: boolean;
  json?: boolean;
  worker: boolean;
  queuePrefix?: string;
}

/** The config to run: the file given, else configs/default.yaml of the project, else the schema defaults. */
export function defaultConfigFile(): string | undefined {
  const file = path.join(projectRoot(), 'configs', 'default.yaml');
  return fs.existsSync(file) ? file : undefined;
}

/** Loads, validates and checks (model files, store) a config; every problem is exit 2 naming the field. */
export async function loadRunConfig(file: string | undefined, sets: readonly string[]): Promise<LoadedConfig> {
  try {
    const loaded = loadConfig(file ?? defaultConfigFile(), { set: sets });
    await checkConfigResources(loaded.config);
    return loaded;
  } catch (err) {
    if (err instanceof ConfigError) throw new CliError(err.message, EXIT.usage);
    throw err;
  }
}

/**
 * The run's task-queue prefix. With the workers in this process and no prefix chosen (--queue-prefix or
 * PLASTICITY_TASK_QUEUE_PREFIX), the run gets queues of its own: on the shared default queues this process's
 * single train/trace slot would also serve every other lineage still running on that server (an interrupted earlier
 * run, a run started by another user of 127.0.0.1:7233), and this run's stages would wait minutes behind theirs.
 */
export function runQueuePrefix(option: string | undefined, workerHere: boolean, env: NodeJS.ProcessEnv = process.env): string {
  if (!workerHere || option !== undefined || env.PLASTICITY_TASK_QUEUE_PREFIX?.trim()) return queuePrefix(option, env);
  return `${DEFAULT_QUEUE_PREFIX}-run-${randomBytes(4).toString('hex')}`;
}

export function register(program: Command): void {
  program
    .command('run')
    .description('run a lineage (finetune → trace → corrupt → trace → retrain → trace → compare) on Temporal')
    .argument('[config]', 'experiment config, YAML or JSON (default: configs/default.yaml)')
    .option('--set <key=value>', 'override one config field, e.g. finetune.epochs=[1,2] (repeatable)', (v: string, prev: string[] = []) => [...prev, v])
    .option('--detach', 'return once the run has started (needs a server that outlives this command)')
    .option('--json', 'machine-readable output: one JSON event per line')
    .option('--no-worker', 'do not run workers in this process (default: run them when the server is local)')
    .option('--queue-prefix <prefix>', 'task-queue prefix (default PLASTICITY_TASK_QUEUE_PREFIX or "plasticity")')
    .addHelpText(
      'after',
      '\nServer: TEMPORAL_ADDRESS if set; else the local default (127.0.0.1:7233) if something listens there;\n' +
        'else an embedded dev server for the duration of this command (state in .plasticity/, Web UI on :8233).\n' +
        'Worker: this process runs workers for all queues when the server is local, unless --no-worker or --detach.',
    )
    .action(async (file: string | undefined, opts: RunOptions) => {
      const loaded = await loadRunConfig(file, opts.set ?? []);
      const log = (m: string) => process.stderr.write(`${m}\n`);
      log(`config ${loaded.source}: experiment ${loaded.config.name} (hash ${loaded.hash.slice(0, 8)}), store ${loaded.config.store}`);
      const session = await openSession({ detach: !!opts.detach, worker: opts.worker, log });
      try {
        log(await planSummaryLine([loaded.config])); // once the server is known to answer: a plan may measure for seconds
        const prefix = runQueuePrefix(opts.queuePrefix, session.workerHere);
        const queues = queuesFor(prefix);
        await session.provideWorker(prefix, queues);
        const started = await startLineage(session.client, loaded, { queues });
        process.exitCode = await presentRun(session, started.workflowId, { detach: opts.detach, json: opts.json, queuePrefix: prefix });
      } finally {
        await session.close({ interrupted: process.exitCode === EXIT_INTERRUPTED });
      }
    });
}
