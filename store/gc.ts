// Garbage collection of blobs: deletes blobs that no JSON manifest in the store references.
import { BLOB_PREFIX, findArtifactRefs, type ArtifactStore } from './artifact-store';

export interface GcOptions {
  /**
   * Blobs younger than this are kept even if unreferenced: a writer stores blobs first and its manifest after, so a
   * fresh blob may simply not have its manifest yet. Default: one hour.
   */
  minAgeMs?: number;
  /** Report what would be deleted without deleting. */
  dryRun?: boolean;
}

/** Scans every manifest (*.json outside blobs/), then deletes unreferenced blobs older than minAgeMs. */
export async function gc(store: ArtifactStore, options: GcOptions = {}): Promise<{ referenced: number; deleted: string[] }> {
  const minAgeMs = options.minAgeMs ?? 60 * 60 * 1000;
  const referenced = new Set<string>();
  for (const key of await store.list('')) {
    if (key.startsWith(BLOB_PREFIX) || !key.endsWith('.json')) continue;
    for (const ref of findArtifactRefs(await store.getJson(key))) referenced.add(ref.sha256);
  }
  const deleted: string[] = [];
  const now = Date.now();
  for (const blob of await store.listEntries(BLOB_PREFIX)) {
    const sha = blob.key.slice(blob.key.lastIndexOf('/') + 1);
    if (referenced.has(sha) || now - blob.modified.getTime() < minAgeMs) continue;
    if (!options.dryRun) await store.delete(blob.key);
    deleted.push(blob.key);
  }
  return { referenced: referenced.size, deleted };
}
