// ArtifactStore: content-addressed blobs (blobs/ab/<sha256>) plus small JSON manifests at named keys, over any
// StoreBackend. Blobs are written data-first and every read is verified; a manifest can only be written once all
// blobs it references are in the store, so a visible manifest never points at a missing blob.
import { randomUUID } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import type { Readable } from 'node:stream';
import type { ArtifactRef } from './artifact-ref';
import type { StoreBackend, StoreEntry } from './backend';
import { ChecksumError, StoreError, describeCause } from './errors';
import { digestOf, hashFile, spoolHashed, verifying } from './hashing';

/** Bytes in memory, or any stream of chunks (a fs.ReadStream, a Readable, an async generator). */
export type BlobSource = Uint8Array | AsyncIterable<Uint8Array>;

export interface ArtifactStore {
  /** file:///abs/root or s3://bucket/prefix */
  readonly url: string;
  /** Fails fast with a StoreError naming the store if it is unreachable or not writable. */
  check(): Promise<void>;
  /**
   * Stores a blob (streamed to a temp file while hashed, then moved/uploaded); same content → same ref. A blob
   * already at its key is kept only if its bytes hash right; otherwise it is replaced.
   */
  putBlob(data: BlobSource, kind: string): Promise<ArtifactRef>;
  /** Stores a local file as a blob without spooling a copy (hard link when `link`, else a stream copy/upload). */
  putBlobFile(file: string, kind: string, opts?: { link?: boolean }): Promise<ArtifactRef>;
  /** Reads a blob whole and checks its size and sha256 against the ref. */
  verifyBlob(ref: ArtifactRef): Promise<BlobCheck>;
  /** Moves a key aside to quarantine/<key>.<time> (kept for inspection, no longer found); returns the new key. */
  quarantine(key: string): Promise<string>;
  /** The local file of a blob (local stores only): read it in place, never open it for writing. */
  localBlobPath(ref: ArtifactRef): string | undefined;
  /** The absolute location of a ref's blob (refs hold keys relative to the store root). */
  resolve(ref: ArtifactRef): string;
  /** What this store object has written since it was opened. */
  readonly stats: StoreStats;
  /** The blob's bytes, verified against ref.sha256/bytes (ChecksumError otherwise). */
  getBlob(ref: ArtifactRef): Promise<Buffer>;
  /** A stream of the blob's bytes that errors with ChecksumError at the end if they do not match the ref. */
  openBlob(ref: ArtifactRef): Promise<Readable>;
  /** Whether the blob is present with the ref's size (does not read it). */
  hasBlob(ref: ArtifactRef): Promise<boolean>;
  /** Writes a JSON document atomically; refuses if it references a blob that is not in the store. */
  putJson(key: string, value: unknown): Promise<void>;
  getJson<T = unknown>(key: string): Promise<T | undefined>;
  exists(key: string): Promise<boolean>;
  /** Keys starting with `prefix`, sorted. */
  list(prefix: string): Promise<string[]>;
  listEntries(prefix: string): Promise<StoreEntry[]>;
  delete(key: string): Promise<void>;
}

export const BLOB_PREFIX = 'blobs/';
export const QUARANTINE_PREFIX = 'quarantine/';

export interface StoreStats {
  /** Bytes written to the store's medium (spool files, copies, uploads, manifests); hard links count 0. */
  bytesWritten: number;
  /** Blobs found already stored (and verified) instead of written again. */
  blobsReused: number;
}

export type BlobCheck = { ok: true } | { ok: false; problem: 'missing' | 'corrupt'; detail: string };

/** Where a ref's blob is, for people: refs hold keys relative to the store root (older ones an absolute URI). */
export function refLocation(storeUrl: string, ref: { uri: string }): string {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(ref.uri) ? ref.uri : `${storeUrl.replace(/\/+$/, '')}/${ref.uri}`;
}

export function blobKey(sha256: string): string {
  return `${BLOB_PREFIX}${sha256.slice(0, 2)}/${sha256}`;
}

/** Every ArtifactRef-shaped object inside a JSON value (how manifests point at blobs). */
export function findArtifactRefs(value: unknown, out: ArtifactRef[] = []): ArtifactRef[] {
  if (Array.isArray(value)) {
    for (const v of value) findArtifactRefs(v, out);
  } else if (value && typeof value === 'object') {
    const o = value as Record<string, unknown>;
    if (typeof o.uri === 'string' && typeof o.sha256 === 'string' && typeof o.bytes === 'number' && typeof o.kind === 'string') {
      out.push(o as unknown as ArtifactRef);
    } else {
      for (const v of Object.values(o)) findArtifactRefs(v, out);
    }
  }
  return out;
}

export class ContentStore implements ArtifactStore {
  constructor(readonly backend: StoreBackend) {}

  get url(): string {
    return this.backend.url;
  }

  check(): Promise<void> {
    return this.backend.check();
  }

  readonly stats: StoreStats = { bytesWritten: 0, blobsReused: 0 };

  async putBlob(data: BlobSource, kind: string): Promise<ArtifactRef> {
    if (data instanceof Uint8Array) {
      const digest = digestOf(data);
      const key = blobKey(digest.sha256);
      if (!(await this.holds(key, digest))) {
        await this.backend.putBytes(key, data);
        this.stats.bytesWritten += data.byteLength;
      }
      return { uri: key, ...digest, kind };
    }
    const spool = path.join(await this.backend.spoolDir(), `plasticity-spool-${randomUUID()}`);
    const digest = await spoolHashed(data, spool).catch((err: unknown) => {
      throw new StoreError(this.url, `spooling a ${kind} blob to ${spool} failed: ${describeCause(err)}`, { cause: err });
    });
    this.stats.bytesWritten += digest.bytes;
    const key = blobKey(digest.sha256);
    try {
      if (!(await this.holds(key, digest))) {
        await this.backend.putFile(key, spool, digest.bytes);
        if (!this.backend.localPath) this.stats.bytesWritten += digest.bytes; // an upload after the local spool
      }
    } finally {
      await fs.rm(spool, { force: true }); // a no-op when the backend moved it into place
    }
    return { uri: key, ...digest, kind };
  }

  async putBlobFile(file: string, kind: string, opts: { link?: boolean } = {}): Promise<ArtifactRef> {
    const digest = await hashFile(file).catch((err: unknown) => {
      throw new StoreError(this.url, `reading ${file} (a ${kind} blob to store) failed: ${describeCause(err)}`, { cause: err });
    });
    const key = blobKey(digest.sha256);
    if (!(await this.holds(key, digest))) {
      const landed = await this.backend.putFromFile(key, file, opts);
      this.stats.bytesWritten += landed.written;
      if (landed.sha256 !== digest.sha256 || landed.bytes !== digest.bytes) {
        await this.backend.delete(key);
        throw new StoreError(this.url, `${file} changed while being stored (${digest.sha256} before, ${landed.sha256} after); not stored`);
      }
    }
    return { uri: key, ...digest, kind };
  }

  async verifyBlob(ref: ArtifactRef): Promise<BlobCheck> {
    const key = this.keyOf(ref);
    const source = await this.backend.read(key);
    if (!source) return { ok: false, problem: 'missing', detail: `blob ${key} not found` };
    try {
      await drain(verifying(source, ref, (actual) => new ChecksumError(this.url, key, ref, actual)));
      return { ok: true };
    } catch (err) {
      if (err instanceof ChecksumError) return { ok: false, problem: 'corrupt', detail: err.message };
      throw err;
    }
  }

  async quarantine(key: string): Promise<string> {
    const dest = `${QUARANTINE_PREFIX}${key}.${new Date().toISOString().replace(/[:.]/g, '-')}`;
    await this.backend.move(key, dest);
    return dest;
  }

  localBlobPath(ref: ArtifactRef): string | undefined {
    return this.backend.localPath?.(this.keyOf(ref));
  }

  resolve(ref: ArtifactRef): string {
    return this.backend.uriOf(this.keyOf(ref));
  }

  async getBlob(ref: ArtifactRef): Promise<Buffer> {
    return this.readFully(await this.openBlob(ref), ref.uri);
  }

  async openBlob(ref: ArtifactRef): Promise<Readable> {
    const key = this.keyOf(ref);
    const source = await this.backend.read(key);
    if (!source) throw new StoreError(this.url, `blob ${key} not found`);
    return verifying(source, ref, (actual) => new ChecksumError(this.url, key, ref, actual));
  }

  async hasBlob(ref: ArtifactRef): Promise<boolean> {
    return this.isStored(this.keyOf(ref), ref.bytes);
  }

  async putJson(key: string, value: unknown): Promise<void> {
    if (key.startsWith(BLOB_PREFIX)) throw new StoreError(this.url, `putJson: key ${key} is inside the blob area ${BLOB_PREFIX}`);
    for (const ref of findArtifactRefs(value)) {
      if (!(await this.hasBlob(ref)))
        throw new StoreError(this.url, `manifest ${key} references blob ${ref.uri}, which is not in the store; write blobs before their manifest`);
    }
    const bytes = Buffer.from(JSON.stringify(value, null, 2));
    await this.backend.putBytes(key, bytes, 'application/json');
    this.stats.bytesWritten += bytes.byteLength;
  }

  async getJson<T = unknown>(key: string): Promise<T | undefined> {
    const stream = await this.backend.read(key);
    if (!stream) return undefined;
    const text = (await this.readFully(stream, this.backend.uriOf(key))).toString('utf8');
    try {
      return JSON.parse(text) as T;
    } catch (err) {
      throw new StoreError(this.url, `${this.backend.uriOf(key)} is not valid JSON (${(err as Error).message})`, { cause: err, failureType: 'DataError' });
    }
  }

  async exists(key: string): Promise<boolean> {
    return (await this.backend.stat(key)) !== undefined;
  }

  async list(prefix: string): Promise<string[]> {
    return (await this.backend.list(prefix)).map((e) => e.key);
  }

  listEntries(prefix: string): Promise<StoreEntry[]> {
    return this.backend.list(prefix);
  }

  delete(key: string): Promise<void> {
    return this.backend.delete(key);
  }

  /** Collects a stream; failures midway (connection reset, …) become StoreErrors naming the uri. */
  private async readFully(stream: Readable, uri: string): Promise<Buffer> {
    const chunks: Buffer[] = [];
    try {
      for await (const chunk of stream) chunks.push(chunk as Buffer);
    } catch (err) {
      if (err instanceof StoreError) throw err;
      throw new StoreError(this.url, `reading ${uri} failed: ${describeCause(err)}`, { cause: err });
    }
    return Buffer.concat(chunks);
  }

  private async isStored(key: string, bytes: number): Promise<boolean> {
    return (await this.backend.stat(key))?.bytes === bytes;
  }

  /** Whether `key` already holds exactly these bytes (same size, then re-hashed: a same-size file may be corrupt). */
  private async holds(key: string, digest: { sha256: string; bytes: number }): Promise<boolean> {
    if (!(await this.isStored(key, digest.bytes))) return false;
    const source = await this.backend.read(key);
    if (!source) return false;
    try {
      await drain(verifying(source, digest, () => new Error('mismatch')));
    } catch {
      return false; // corrupt: the caller writes it again
    }
    this.stats.blobsReused++;
    return true;
  }

  /**
   * The blob key for a ref, after checking the ref is well-formed. Refs hold the key relative to the store root
   * ("blobs/ab/<sha256>"), so a store can be moved or copied; refs written by older versions hold an absolute URI
   * (file:///old/root/blobs/… or s3://bucket/prefix/blobs/…), which is accepted under any root.
   */
  private keyOf(ref: ArtifactRef): string {
    if (!/^[0-9a-f]{64}$/.test(ref.sha256) || !Number.isSafeInteger(ref.bytes) || ref.bytes < 0)
      throw new StoreError(this.url, `malformed ArtifactRef ${JSON.stringify(ref)}: expected sha256 = 64 hex chars, bytes = integer >= 0`);
    const key = blobKey(ref.sha256);
    if (ref.uri !== key && !(/^(file|s3):\/\//.test(ref.uri) && ref.uri.endsWith(`/${key}`)))
      throw new StoreError(this.url, `ArtifactRef ${ref.uri} does not belong to this store (expected ${key}, relative to the store root)`);
    return key;
  }
}

async function drain(stream: Readable): Promise<void> {
  for await (const chunk of stream) void chunk;
}
