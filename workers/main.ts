// Process entry point: `node dist/workers/main.js [--queues orchestrator,gpu,cpu] [--prefix plasticity] [--log-level WARN]`.
// Connects with the TEMPORAL_* settings (temporal/connection.ts), serves the queues until SIGTERM/SIGINT, and exits
// once the running job has checkpointed and the workers have drained.
import { DefaultLogger, Runtime, type LogLevel } from '@temporalio/worker';
import { QUEUE_ROLES, type QueueRole } from '../contract/lineage';
import { runWorkers } from './run-worker';

const LEVELS = ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR'];

export function parseWorkerArgs(argv: string[]): { queues: QueueRole[]; prefix?: string; logLevel: LogLevel } {
  const out: { queues: QueueRole[]; prefix?: string; logLevel: LogLevel } = { queues: [...QUEUE_ROLES], logLevel: 'INFO' };
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i].split('=', 2);
    const value = () => inline ?? argv[++i] ?? '';
    if (flag === '--queues') {
      const queues = value().split(',').map((q) => q.trim()).filter(Boolean);
      const bad = queues.filter((q) => !QUEUE_ROLES.includes(q as QueueRole));
      if (bad.length || queues.length === 0) throw new Error(`--queues: expected a comma-separated subset of ${QUEUE_ROLES.join(',')}, got "${queues.join(',')}"`);
      out.queues = queues as QueueRole[];
    } else if (flag === '--prefix') out.prefix = value();
    else if (flag === '--log-level') {
      const level = value().toUpperCase();
      if (!LEVELS.includes(level)) throw new Error(`--log-level: expected one of ${LEVELS.join(', ')}, got "${level}"`);
      out.logLevel = level as LogLevel;
    } else throw new Error(`unknown argument "${argv[i]}"; usage: main.js [--queues orchestrator,gpu,cpu] [--prefix NAME] [--log-level WARN]`);
  }
  return out;
}

async function main(): Promise<void> {
  const args = parseWorkerArgs(process.argv.slice(2));
  Runtime.install({ logger: new DefaultLogger(args.logLevel) });
  const say = (m: string) => process.stderr.write(`[worker ${process.pid}] ${m}\n`);
  await runWorkers({ queues: args.queues, taskQueuePrefix: args.prefix, log: say });
  say('stopped');
}

if (require.main === module) {
  main().then(
    () => process.exit(0),
    (err) => {
      process.stderr.write(`worker: ${(err as Error).stack ?? err}\n`);
      process.exit(1);
    },
  );
}
