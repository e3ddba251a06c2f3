// The raw key/value operations a storage backend (local folder, S3) provides. Keys are '/'-separated and relative
// to the store root. Content addressing, verification and manifests are built on top (artifact-store.ts).
import type { Readable } from 'node:stream';

export interface StoreEntry {
  key: string;
  bytes: number;
  modified: Date;
}

export interface StoreBackend {
  /** The store's URL: file:///abs/root or s3://bucket/prefix. */
  readonly url: string;
  /** The URI of one key (used as ArtifactRef.uri). */
  uriOf(key: string): string;
  /** Verifies quickly that the store is reachable and writable; throws StoreError otherwise. */
  check(): Promise<void>;
  /** A directory where blobs are spooled while being hashed (same filesystem as the store, if local). */
  spoolDir(): Promise<string>;
  /** Stores a spooled file under `key` atomically, by moving it (local) or uploading it (the caller removes leftovers). */
  putFile(key: string, file: string, bytes: number): Promise<void>;
  /**
   * Stores a file the caller keeps under `key` without modifying it, streaming (local: hard link or stream copy into
   * the temp area, then rename; S3: multipart upload from a file stream). Resolves to the digest of the bytes that
   * landed (computed while streaming) and the bytes actually written (0 for a hard link). `link` allows a hard
   * link: only for files nobody rewrites in place (the caller's own work files, removed afterwards).
   */
  putFromFile(key: string, file: string, opts?: { link?: boolean }): Promise<{ sha256: string; bytes: number; written: number }>;
  /** Moves a key to another key (quarantine); moving an absent key is not an error. */
  move(from: string, to: string): Promise<void>;
  /** The local file holding `key`, for backends that have one (read it only; never open it for writing). */
  localPath?(key: string): string;
  /** Stores bytes under `key` atomically (readers see the old value or the whole new one). */
  putBytes(key: string, bytes: Uint8Array, contentType?: string): Promise<void>;
  /** Opens a key for reading, or undefined when absent. */
  read(key: string): Promise<Readable | undefined>;
  stat(key: string): Promise<StoreEntry | undefined>;
  /** All entries whose key starts with `prefix`, sorted by key. */
  list(prefix: string): Promise<StoreEntry[]>;
  /** Deletes a key; deleting an absent key is not an error. */
  delete(key: string): Promise<void>;
}

/** Rejects keys that could escape the store root or that are not plain '/'-separated paths. */
export function checkKey(key: string, where: string): string {
  const bad =
    key === '' ||
    key.startsWith('/') ||
    key.includes('\\') ||
    key.split('/').some((seg) => seg === '' || seg === '.' || seg === '..' || seg.startsWith('.tmp'));
  if (bad) {
    throw new Error(
      `${where}: invalid key ${JSON.stringify(key)}; expected a relative path like "runs/a/b.json" ` +
        `without empty, "." or ".." segments`,
    );
  }
  return key;
}
