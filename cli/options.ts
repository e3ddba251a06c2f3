// Parsing of option values shared by several commands; errors are usage errors (exit 2) naming the flag.
import { BACKEND_CHOICES, type BackendPreference } from '../model/backends';
import { QUEUE_ROLES, taskQueues, DEFAULT_QUEUE_PREFIX, type LineageQueues, type QueueRole } from '../contract/lineage';
import { CliError } from './errors';

export function parsePort(value: string, flag: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 65535) throw new CliError(`${flag}: expected a port number 1-65535, got ${JSON.stringify(value)}`);
  return n;
}

/** An integer >= min; `expected` words the error (default "an integer >= min"). */
export function parseIntAtLeast(value: string, flag: string, min: number, expected = `an integer >= ${min}`): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) throw new CliError(`${flag}: expected ${expected}, got ${JSON.stringify(value)}`);
  return n;
}

export function parsePositiveInt(value: string, flag: string): number {
  return parseIntAtLeast(value, flag, 1, 'a positive integer');
}

/** --backend: one of the backend choices; not given means 'auto'. */
export function parseBackend(value: string | undefined, flag = '--backend'): BackendPreference {
  if (value === undefined) return 'auto';
  if (!BACKEND_CHOICES.includes(value as BackendPreference)) throw new CliError(`${flag}: expected one of ${BACKEND_CHOICES.join(', ')}, got ${JSON.stringify(value)}`);
  return value as BackendPreference;
}

/** Runs `fn`, turning any error it throws into a usage error (exit 2) with the same message. */
export async function asUsageError<T>(fn: () => T | Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (e instanceof CliError) throw e;
    throw new CliError((e as Error).message);
  }
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
