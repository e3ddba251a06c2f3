// Checkpoint series: manifests at <series>/step-000120.json (e.g. series = runs/<lineage>/<stage>/checkpoints).
// The manifest's blobs must already be in the store (putJson enforces it); retention keeps the last K plus finals.
import { checkKey } from '../store/backend';
import type { ArtifactStore } from '../store/artifact-store';
import { stepName, stepOf } from './files';

/** Fields the store adds to / reads from every checkpoint manifest. */
export interface CheckpointMarks {
  step: number;
  /** A final checkpoint survives retention regardless of its age. */
  final?: boolean;
}

export interface CheckpointInfo<T extends object = Record<string, unknown>> {
  step: number;
  key: string;
  manifest: T & CheckpointMarks;
}

export function checkpointKey(series: string, step: number): string {
  if (!Number.isSafeInteger(step) || step < 0) throw new Error(`checkpoint step must be an integer >= 0, got ${step}`);
  return `${checkKey(series, 'checkpoint series')}/${stepName(step)}.json`;
}

/** Writes the manifest of one checkpoint (after its blobs); returns its key. */
export async function putCheckpointManifest<T extends object>(
  store: ArtifactStore,
  series: string,
  step: number,
  manifest: T & { final?: boolean },
): Promise<string> {
  const key = checkpointKey(series, step);
  await store.putJson(key, { ...manifest, step });
  return key;
}

/** The series' checkpoint manifests, oldest step first (numeric order). */
export async function listCheckpoints(store: ArtifactStore, series: string): Promise<{ step: number; key: string }[]> {
  const dir = `${checkKey(series, 'checkpoint series')}/`;
  const found: { step: number; key: string }[] = [];
  for (const key of await store.list(`${dir}step-`)) {
    const name = key.slice(dir.length);
    const step = name.endsWith('.json') ? stepOf(name.slice(0, -'.json'.length)) : undefined;
    if (step !== undefined) found.push({ step, key });
  }
  return found.sort((a, b) => a.step - b.step);
}

/** The newest checkpoint of a series with its manifest, or undefined if the series has none. */
export async function latestCheckpoint<T extends object = Record<string, unknown>>(
  store: ArtifactStore,
  series: string,
): Promise<CheckpointInfo<T> | undefined> {
  const all = await listCheckpoints(store, series);
  for (let i = all.length - 1; i >= 0; i--) {
    const manifest = await store.getJson<T & CheckpointMarks>(all[i].key);
    if (manifest) return { ...all[i], manifest }; // absent only if deleted since listing: try the previous one
  }
  return undefined;
}

/**
 * Keeps the newest `keepLast` checkpoints of a series plus every manifest marked `final: true`; deletes the other
 * manifests. Blobs are left in place: `gc()` removes those no remaining manifest references.
 */
export async function applyRetention(
  store: ArtifactStore,
  series: string,
  keepLast: number,
): Promise<{ kept: number[]; deleted: number[]; deletedManifests: Record<string, unknown>[] }> {
  if (!Number.isSafeInteger(keepLast) || keepLast < 1) throw new Error(`retention keepLast must be an integer >= 1, got ${keepLast}`);
  const all = await listCheckpoints(store, series);
  const cut = Math.max(0, all.length - keepLast);
  const kept = all.slice(cut).map((c) => c.step);
  const deleted: number[] = [];
  const deletedManifests: Record<string, unknown>[] = [];
  for (const c of all.slice(0, cut)) {
    const manifest = await store.getJson<CheckpointMarks>(c.key);
    if (manifest?.final === true) {
      kept.push(c.step);
    } else {
      await store.delete(c.key);
      deleted.push(c.step);
      if (manifest) deletedManifests.push(manifest as unknown as Record<string, unknown>);
    }
  }
  return { kept: kept.sort((a, b) => a - b), deleted, deletedManifests };
}
