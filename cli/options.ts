// Parsing of option values shared by several commands; errors are usage errors (exit 2) naming the flag.
import { QUEUE_ROLES, taskQueues, DEFAULT_QUEUE_PREFIX, type LineageQueues, type QueueRole } from '../contract/lineage';
import { CliError } from './errors';

export function parsePort(value: string, flag: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 65535) throw new CliError(`${flag}: expected a port number 1-65535, got ${JSON.stringify(value)}`);
  return n;
}

export function parsePositiveInt(value: string, flag: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new CliError(`${flag}: expected a positive integer, got ${JSON.stringify(value)}`);
  return n;
}

/** `gpu,cpu` → ['gpu', 'cpu']; every name must be a queue role. */
export function parseQueueRoles(value: string, flag = '--queues'): QueueRole[] {
  const names = value.split(',').map((s) => s.trim()).filter(Boolean);
  if (names.length === 0) throw new CliError(`${flag}: expected a comma-separated list of ${QUEUE_ROLES.join(', ')}`);
  for (const name of names) {
    if (!QUEUE_ROLES.includes(name as QueueRole)) throw new CliError(`${flag}: unknown queue "${name}"; expected some of ${QUEUE_ROLES.join(', ')}`);
  }
  return [...new Set(names as QueueRole[])];
}

/** Task-queue prefix: --queue-prefix, else PLASTICITY_TASK_QUEUE_PREFIX, else "plasticity". */
export function queuePrefix(option: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  return option ?? (env.PLASTICITY_TASK_QUEUE_PREFIX?.trim() || DEFAULT_QUEUE_PREFIX);
}

/** The three queue names for a prefix; a bad prefix is a usage error. */
export function queuesFor(prefix: string, flag = '--queue-prefix'): LineageQueues {
  try {
    return taskQueues(prefix);
  } catch (err) {
    throw new CliError(`${flag}: ${(err as Error).message}`);
  }
}
