// Errors a retry cannot fix (the same input fails the same way): typed where they are thrown, so the activity layer
// turns them into non-retryable Temporal failures by type, never by matching message text. No imports: usable from
// the ML core, the store, the config, worker threads and workflow code alike.

/** Failure types Temporal never retries (contract/lineage.ts NON_RETRYABLE_ERROR_TYPES). */
export const DETERMINISTIC_FAILURE_TYPES = ['InvalidConfig', 'DataError', 'ChecksumError', 'StoreAccessDenied'] as const;
export type DeterministicFailureType = (typeof DETERMINISTIC_FAILURE_TYPES)[number];

/** A deterministic failure: bad config or data, an impossible architecture, a corrupted file, a store we may not write. */
export class DeterministicError extends Error {
  constructor(
    message: string,
    readonly failureType: DeterministicFailureType = 'DataError',
    options?: { cause?: unknown; field?: string },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'DeterministicError';
    if (options?.field) this.field = options.field;
  }
  field?: string;
}

/** The deterministic failure type an error carries (a `failureType` property survives worker-thread messages), if any. */
export function deterministicType(err: unknown): DeterministicFailureType | undefined {
  const t = (err as { failureType?: unknown } | null | undefined)?.failureType;
  return typeof t === 'string' && (DETERMINISTIC_FAILURE_TYPES as readonly string[]).includes(t) ? (t as DeterministicFailureType) : undefined;
}

/** fs error codes that mean "not allowed here", which no retry changes. */
export const ACCESS_DENIED_CODES = ['EACCES', 'EPERM', 'EROFS'];
