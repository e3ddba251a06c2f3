// Errors of the artifact store. Every message names the store (or the blob's uri) it is about.
import { ACCESS_DENIED_CODES, type DeterministicFailureType } from '../errors/deterministic';

/** Any failure to reach, read or write a store. `storeUrl` is the store's own URL (file://… or s3://…). */
export class StoreError extends Error {
  /** Set when a retry cannot help (errors/deterministic.ts): permission denied, an object that is not what it must be. */
  readonly failureType?: DeterministicFailureType;
  constructor(
    readonly storeUrl: string,
    message: string,
    options?: { cause?: unknown; failureType?: DeterministicFailureType },
  ) {
    super(`artifact store ${storeUrl}: ${message}`, options);
    this.name = 'StoreError';
    const code = (options?.cause as { code?: unknown } | undefined)?.code;
    const type = options?.failureType ?? (typeof code === 'string' && ACCESS_DENIED_CODES.includes(code) ? 'StoreAccessDenied' : undefined);
    if (type) this.failureType = type;
  }
}

/** A blob whose bytes do not match its ArtifactRef (corrupted, truncated or replaced). Never retried silently. */
export class ChecksumError extends StoreError {
  constructor(
    storeUrl: string,
    readonly uri: string,
    readonly expected: { sha256: string; bytes: number },
    readonly actual: { sha256: string; bytes: number },
  ) {
    const what =
      expected.bytes !== actual.bytes
        ? `size ${actual.bytes} bytes, expected ${expected.bytes} (truncated or overwritten)`
        : `sha256 ${actual.sha256}, expected ${expected.sha256}`;
    super(storeUrl, `checksum mismatch for ${uri}: ${what}`, { failureType: 'ChecksumError' });
    this.name = 'ChecksumError';
  }
}

/** A short description of a low-level error (S3 SDK or fs) for inclusion in a StoreError message. */
export function describeCause(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as { code?: string }).code;
    const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
    const parts = [err.name !== 'Error' ? err.name : undefined, code, status ? `HTTP ${status}` : undefined].filter(Boolean);
    const msg = err.message || (err as { errors?: Error[] }).errors?.map((e) => e.message).join('; ') || '';
    return `${parts.join(' ')}${parts.length && msg ? ': ' : ''}${msg}`;
  }
  return String(err);
}
