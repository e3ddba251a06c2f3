// The flags of a worker process, one set for `plasticity worker` and the deploy entry point (workers/main.ts):
// --queues orchestrator,gpu,cpu  --queue-prefix P  --shutdown-grace 2m  --log-level INFO
import { Command, CommanderError } from 'commander';
import { msToNumber } from '@temporalio/common/lib/time';
import type { LogLevel } from '@temporalio/worker';
import { QUEUE_ROLES, type QueueRole } from '../contract/lineage';
import { CliError } from './errors';
import { parseQueueRoles } from './options';

export const LOG_LEVELS: readonly LogLevel[] = ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR'];

/** The flags as commander hands them over. */
export interface WorkerFlags {
  queues: string;
  queuePrefix?: string;
  shutdownGrace: string;
  logLevel: string;
}

export interface WorkerArgs {
  queues: QueueRole[];
  /** --queue-prefix; undefined: PLASTICITY_TASK_QUEUE_PREFIX or "plasticity". */
  prefix?: string;
  shutdownGraceMs: number;
  logLevel: LogLevel;
}

export function addWorkerOptions(command: Command): Command {
  return command
    .option('--queues <list>', `which queues to serve: ${QUEUE_ROLES.join(', ')}`, QUEUE_ROLES.join(','))
    .option('--queue-prefix <prefix>', 'task-queue prefix (default PLASTICITY_TASK_QUEUE_PREFIX or "plasticity")')
    .option('--shutdown-grace <duration>', 'how long a stop waits for the running step to checkpoint', '2m')
    .option('--log-level <level>', `Temporal runtime log level: ${LOG_LEVELS.join(', ')}`, 'INFO');
}

/** Checks the flags; a bad value is a usage error naming the flag. */
export function workerArgs(flags: WorkerFlags): WorkerArgs {
  const level = flags.logLevel.toUpperCase() as LogLevel;
  if (!LOG_LEVELS.includes(level)) throw new CliError(`--log-level: expected one of ${LOG_LEVELS.join(', ')}, got ${JSON.stringify(flags.logLevel)}`);
  return {
    queues: parseQueueRoles(flags.queues),
    ...(flags.queuePrefix !== undefined ? { prefix: flags.queuePrefix } : {}),
    shutdownGraceMs: parseDuration(flags.shutdownGrace, '--shutdown-grace'),
    logLevel: level,
  };
}

/**
 * A worker command line (the arguments after the script). Unknown flags and bad values throw a CliError; --help
 * prints the usage and throws a CommanderError with exitCode 0.
 */
export function parseWorkerArgs(argv: readonly string[], name = 'main.js'): WorkerArgs {
  const command = addWorkerOptions(new Command(name).description('serve lineage task queues until SIGTERM/SIGINT'))
    .exitOverride()
    .configureOutput({ writeErr: () => {} });
  try {
    command.parse([...argv], { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError && err.exitCode !== 0) throw new CliError(err.message.replace(/^error: /, ''));
    throw err;
  }
  return workerArgs(command.opts<WorkerFlags>());
}

/** `2m`, `30s`, `1500ms` → milliseconds (Temporal's duration syntax). */
function parseDuration(value: string, flag: string): number {
  try {
    return msToNumber(value as Parameters<typeof msToNumber>[0]);
  } catch {
    throw new CliError(`${flag}: expected a duration such as 30s or 2m, got ${JSON.stringify(value)}`);
  }
}
