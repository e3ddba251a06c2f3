// Streaming sha256: spool a source to a file while hashing it, and read a blob back while verifying it.
import { createHash } from 'node:crypto';
import { createReadStream, promises as fs } from 'node:fs';
import { Transform, pipeline, type Readable } from 'node:stream';

export interface Digest {
  sha256: string;
  bytes: number;
}

export function digestOf(bytes: Uint8Array): Digest {
  return { sha256: createHash('sha256').update(bytes).digest('hex'), bytes: bytes.byteLength };
}

/** sha256 and length of bytes fed in pieces; `digest()` may be read more than once, after the last `add`. */
function runningDigest(): { add(chunk: Uint8Array): void; readonly bytes: number; digest(): Digest } {
  const hash = createHash('sha256');
  let bytes = 0;
  let sha256: string | undefined;
  return {
    add(chunk) {
      hash.update(chunk);
      bytes += chunk.byteLength;
    },
    get bytes() {
      return bytes;
    },
    digest: () => ({ sha256: (sha256 ??= hash.digest('hex')), bytes }),
  };
}

/** A pass-through stream that hashes what flows through it; `digest()` once it has ended. */
export function hashingStream(): { stream: Transform; digest: () => Digest } {
  const running = runningDigest();
  const stream = new Transform({
    transform(chunk: Buffer, _enc, done) {
      running.add(chunk);
      done(null, chunk);
    },
  });
  return { stream, digest: running.digest };
}

/** Writes `source` to `file` (flushed to disk) and returns its digest; removes the file on failure. */
export async function spoolHashed(source: AsyncIterable<Uint8Array>, file: string): Promise<Digest> {
  const running = runningDigest();
  const fh = await fs.open(file, 'wx');
  try {
    for await (const chunk of source) {
      running.add(chunk);
      await fh.write(chunk);
    }
    await fh.sync();
  } catch (err) {
    await fh.close();
    await fs.rm(file, { force: true });
    throw err;
  }
  await fh.close();
  return running.digest();
}

/**
 * Passes `source` through, hashing it; at the end (or as soon as it runs past the expected size) the returned
 * stream errors with `mismatch(actual)` if the bytes differ from `expected`. Source errors propagate.
 */
export function verifying(source: Readable, expected: Digest, mismatch: (actual: Digest) => Error): Readable {
  const running = runningDigest();
  const check = new Transform({
    transform(chunk: Buffer, _enc, done) {
      running.add(chunk);
      if (running.bytes > expected.bytes) return done(mismatch({ sha256: '(not computed: too long)', bytes: running.bytes }));
      done(null, chunk);
    },
    flush(done) {
      const actual = running.digest();
      done(actual.sha256 === expected.sha256 && actual.bytes === expected.bytes ? null : mismatch(actual));
    },
  });
  return pipeline(source, check, () => {}); // errors surface on `check`, the returned stream
}

/** The digest of a file, read as a stream. */
export async function hashFile(file: string): Promise<Digest> {
  const running = runningDigest();
  for await (const chunk of createReadStream(file)) running.add(chunk as Buffer);
  return running.digest();
}
