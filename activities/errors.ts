// Maps errors of the lower layers to Temporal failures by their type, never by their message: errors typed
// deterministic where they are thrown (errors/deterministic.ts: config and data errors, corrupted blobs, a store we may not
// write) are non-retryable (contract/lineage.ts NON_RETRYABLE_ERROR_TYPES), because a retry would fail the same way;
// everything else (I/O, a dying thread) is retried.
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { deterministicType } from '../errors/deterministic';

export function toFailure(err: unknown, where: string): Error {
  if (err instanceof ApplicationFailure || err instanceof CancelledFailure) return err;
  const message = err instanceof Error ? err.message : String(err);
  const type = deterministicType(err);
  if (type === 'InvalidConfig') return ApplicationFailure.nonRetryable(message, type, { field: (err as { field?: string }).field ?? null });
  if (type) return ApplicationFailure.nonRetryable(`${where}: ${message}`, type);
  return err instanceof Error ? err : new Error(message);
}

/** Runs `fn`, rethrowing its error as a Temporal failure (see toFailure). */
export async function mapErrors<T>(where: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw toFailure(err, where);
  }
}
