// Maps errors of the lower layers to Temporal failures: config and data errors (and corrupted blobs) are
// non-retryable (shared/lineage.ts NON_RETRYABLE_ERROR_TYPES), because a retry would fail the same way; everything
// else (I/O, a dying thread) is retried.
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { ConfigError } from '../config/load';
import { ChecksumError } from '../store/errors';

/** Messages of deterministic failures thrown as plain Errors by the ML core (same input → same failure). */
const DATA_ERROR_PATTERNS: RegExp[] = [
  /is not in the model's/,
  /exceed the model's n_ctx/,
  /^input: sequence length \d+ exceeds n_ctx/,
  /^train: loss is /,
  /differs from the job's/,
  /^job(\.|:)/,
  /^training data: /,
  /^(model folder|checkpoint) .*(not found|missing|no plasticity\.json)/,
  /^data cursor: /,
  /^trace job: /,
  /^trace( prompts)?: /,
  /^trace\.[a-z_.]+: /,
  /^compare(\.[a-zA-Z_.]+)?: /,
];

export function toFailure(err: unknown, where: string): Error {
  if (err instanceof ApplicationFailure || err instanceof CancelledFailure) return err;
  const message = err instanceof Error ? err.message : String(err);
  if (err instanceof ConfigError) return ApplicationFailure.nonRetryable(message, 'InvalidConfig', { field: err.field ?? null });
  if (err instanceof ChecksumError) return ApplicationFailure.nonRetryable(`${where}: ${message}`, 'ChecksumError');
  const jobInput = err instanceof Error && err.name === 'JobInputError'; // train/job.ts: bad job input, across the thread boundary
  if (jobInput || DATA_ERROR_PATTERNS.some((p) => p.test(message))) return ApplicationFailure.nonRetryable(`${where}: ${message}`, 'DataError');
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
