// Process entry point of the deploy images: `node dist/workers/main.js [--queues orchestrator,gpu,cpu]
// [--queue-prefix P] [--shutdown-grace 2m] [--log-level WARN]`, the flags of `plasticity worker` (cli/worker-options.ts).
// Connects with the TEMPORAL_* settings (temporal/connection.ts), serves the queues until SIGTERM/SIGINT, and exits
// once the running job has checkpointed and the workers have drained. Exit code 2 for bad flags, 1 when a worker fails.
import { CommanderError } from 'commander';
import { CliError } from '../cli/errors';
import { parseWorkerArgs } from '../cli/worker-options';
import { installRuntimeLogger, runWorkers } from './run-worker';

async function main(): Promise<void> {
  const args = parseWorkerArgs(process.argv.slice(2));
  installRuntimeLogger(args.logLevel);
  const say = (m: string) => process.stderr.write(`[worker ${process.pid}] ${m}\n`);
  await runWorkers({ queues: args.queues, taskQueuePrefix: args.prefix, shutdownGraceTime: args.shutdownGraceMs, log: say });
  say('stopped');
}

if (require.main === module) {
  main().then(
    () => process.exit(0),
    (err) => {
      if (err instanceof CommanderError && err.exitCode === 0) process.exit(0); // --help
      if (err instanceof CliError) {
        process.stderr.write(`worker: ${err.message}\n`);
        process.exit(err.exitCode);
      }
      process.stderr.write(`worker: ${(err as Error).stack ?? err}\n`);
      process.exit(1);
    },
  );
}
