// Checkpoint folders ⇄ the artifact store. A folder's files become content-addressed blobs; a small JSON descriptor
// blob ({format, step, files}) names them and is the checkpoint's ArtifactRef. The per-stage manifest series
// (series.ts) points at descriptors; the manifest is written last, so a visible one is always complete.
import { createReadStream, createWriteStream, promises as fs } from 'node:fs';
import * as path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { blobKey, type ArtifactStore } from '../store/artifact-store';
import { applyRetention, latestCheckpoint, listCheckpoints, putCheckpointManifest } from './series';
import { StoreError } from '../store/errors';
import type { ArtifactRef } from '../store/artifact-ref';
import { DeterministicError } from '../errors/deterministic';
import { CHECKPOINT_FILES, META_FILE, MODEL_FILE, OPTIMIZER_FILE } from './files';

export const DESCRIPTOR_FORMAT = 'plasticity-checkpoint-files';
/** Files at most this big are copied when materialised; bigger ones are hard-linked from a local store. */
const LINK_MIN_BYTES = 1 << 20;

export interface CheckpointDescriptor {
  format: typeof DESCRIPTOR_FORMAT;
  step: number;
  files: Record<string, ArtifactRef>;
}

export interface UploadedCheckpoint {
  step: number;
  /** The descriptor blob: the checkpoint's identity in StageResults. */
  ref: ArtifactRef;
  /** sha256 of model.safetensors: the identity of the weights (stable across runs, unlike the metadata file). */
  weightsSha256: string;
}

/** Manifest of one checkpoint in a stage's series (stages/<key>/checkpoints/step-NNNNNN.json). */
export interface CheckpointManifest {
  checkpoint: ArtifactRef;
  weightsSha256: string;
  /** Named output this checkpoint is (e.g. 'epoch-2', 'checkpoint'). */
  label?: string;
  final?: boolean;
  step: number;
}

export const stagePrefix = (key: string) => `stages/${key}`;
export const checkpointSeries = (key: string) => `${stagePrefix(key)}/checkpoints`;

/**
 * Uploads the files of a checkpoint (or model) folder as blobs, then a descriptor blob naming them. `link`: the
 * folder is the caller's own work folder, never rewritten in place, so a local store may hard-link its files.
 */
export async function uploadCheckpointFolder(store: ArtifactStore, dir: string, step: number, opts: { link?: boolean } = {}): Promise<UploadedCheckpoint> {
  const names = (await fs.readdir(dir, { withFileTypes: true }))
    .filter((e) => e.isFile() && CHECKPOINT_FILES.includes(e.name))
    .map((e) => e.name)
    .sort();
  if (!names.includes(MODEL_FILE)) throw new DeterministicError(`checkpoint folder ${dir}: no ${MODEL_FILE}`);
  const files: Record<string, ArtifactRef> = {};
  for (const name of names) files[name] = await store.putBlobFile(path.join(dir, name), 'checkpoint-file', opts);
  const descriptor: CheckpointDescriptor = { format: DESCRIPTOR_FORMAT, step, files };
  const ref = await store.putBlob(Buffer.from(JSON.stringify(descriptor, null, 2)), 'checkpoint');
  return { step, ref, weightsSha256: files[MODEL_FILE].sha256 };
}

/** Uploads a folder and commits it as the series' checkpoint at `step` (manifest last), then applies retention. */
export async function commitCheckpoint(
  store: ArtifactStore,
  series: string,
  dir: string,
  step: number,
  opts: { label?: string; final?: boolean; keepLast: number; link?: boolean },
): Promise<{ manifestKey: string; uploaded: UploadedCheckpoint }> {
  const uploaded = await uploadCheckpointFolder(store, dir, step, { link: opts.link });
  const manifest: Omit<CheckpointManifest, 'step'> = {
    checkpoint: uploaded.ref,
    weightsSha256: uploaded.weightsSha256,
    ...(opts.label ? { label: opts.label } : {}),
    ...(opts.final ? { final: true } : {}),
  };
  const manifestKey = await putCheckpointManifest(store, series, step, manifest);
  const { deletedManifests } = await applyRetention(store, series, opts.keepLast);
  await deleteMoments(store, series, deletedManifests as unknown as CheckpointManifest[]);
  return { manifestKey, uploaded };
}

/**
 * Deletes the optimizer blobs of checkpoints whose manifests are gone (retention, a completed stage), unless a
 * remaining manifest of the series still references them. Resume-only data: nothing else points at moments.
 */
export async function deleteMoments(store: ArtifactStore, series: string, gone: CheckpointManifest[]): Promise<number> {
  const doomed = new Map<string, number>();
  for (const m of gone) {
    const d = await readDescriptor(store, m.checkpoint).catch(() => undefined);
    const opt = d?.files[OPTIMIZER_FILE];
    if (opt) doomed.set(opt.sha256, opt.bytes);
  }
  if (doomed.size === 0) return 0;
  for (const c of await listCheckpoints(store, series)) {
    const m = await store.getJson<CheckpointManifest>(c.key);
    const d = m && (await readDescriptor(store, m.checkpoint).catch(() => undefined));
    const opt = d?.files[OPTIMIZER_FILE];
    if (opt) doomed.delete(opt.sha256);
  }
  let freed = 0;
  for (const [sha, bytes] of doomed) {
    await store.delete(blobKey(sha));
    freed += bytes;
  }
  return freed;
}

/** Whether a checkpoint carries the optimizer moments a resume needs. */
export async function hasMoments(store: ArtifactStore, ref: ArtifactRef): Promise<boolean> {
  return OPTIMIZER_FILE in (await readDescriptor(store, ref)).files;
}

/**
 * The weights-only form of a checkpoint (config, weights, plasticity.json without the optimizer entry): what a
 * stage keeps as an output. Returns the ref unchanged when it has no moments.
 */
export async function weightsOnly(store: ArtifactStore, ref: ArtifactRef): Promise<ArtifactRef> {
  const descriptor = await readDescriptor(store, ref);
  if (!(OPTIMIZER_FILE in descriptor.files)) return ref;
  const files = { ...descriptor.files };
  delete files[OPTIMIZER_FILE];
  if (files[META_FILE]) {
    const meta = JSON.parse((await store.getBlob(files[META_FILE])).toString('utf8')) as { files?: Record<string, unknown> };
    if (meta.files) delete meta.files[OPTIMIZER_FILE];
    files[META_FILE] = await store.putBlob(Buffer.from(JSON.stringify(meta, null, 2) + '\n', 'utf8'), 'checkpoint-file');
  }
  const slim: CheckpointDescriptor = { format: DESCRIPTOR_FORMAT, step: descriptor.step, files };
  return store.putBlob(Buffer.from(JSON.stringify(slim, null, 2)), 'checkpoint');
}

/**
 * Once a stage is recorded: its output checkpoints' manifests point at weights-only descriptors, the other
 * (in-progress) manifests are deleted, and the moments of all of them are deleted. Returns the bytes freed.
 */
export async function dropResumeState(store: ArtifactStore, series: string, outputs: Map<number, { ref: ArtifactRef; label: string }>): Promise<number> {
  const gone: CheckpointManifest[] = [];
  for (const c of await listCheckpoints(store, series)) {
    const m = await store.getJson<CheckpointManifest>(c.key);
    if (!m) continue;
    const out = outputs.get(c.step);
    if (out && out.ref.sha256 === m.checkpoint.sha256) continue;
    gone.push(m);
    if (out) await store.putJson(c.key, { ...m, checkpoint: out.ref, label: out.label, final: true, step: c.step });
    else await store.delete(c.key);
  }
  return deleteMoments(store, series, gone);
}

/**
 * Materialises the newest checkpoint of a series that a resume can use (it has moments and its blobs verify),
 * considering the heartbeat-reported manifest too. A checkpoint that fails to materialise is skipped with a warning.
 */
export async function materialiseResume(
  store: ArtifactStore,
  series: string,
  heartbeatKey: string | undefined,
  dir: string,
  warn: (line: string) => void = console.warn,
): Promise<{ key: string; manifest: CheckpointManifest; dir: string } | undefined> {
  const keys = (await listCheckpoints(store, series)).map((c) => c.key);
  if (heartbeatKey && heartbeatKey.startsWith(`${series}/`) && !keys.includes(heartbeatKey)) keys.push(heartbeatKey);
  const candidates: { key: string; manifest: CheckpointManifest }[] = [];
  for (const key of keys) {
    const manifest = await store.getJson<CheckpointManifest>(key).catch(() => undefined);
    if (manifest && typeof manifest.step === 'number') candidates.push({ key, manifest });
  }
  candidates.sort((a, b) => b.manifest.step - a.manifest.step);
  for (const c of candidates) {
    try {
      if (!(await hasMoments(store, c.manifest.checkpoint))) continue; // an output: weights only
      return { ...c, dir: await materialiseCheckpoint(store, c.manifest.checkpoint, dir) };
    } catch (err) {
      if (!(err instanceof StoreError)) throw err;
      warn(`checkpoint ${c.key} cannot be resumed from (${err.message}); trying an older one`);
      await fs.rm(dir, { recursive: true, force: true });
    }
  }
  return undefined;
}

/** A file's chunks, opened only when iterated (a stream opened early could fail with nobody listening). */
export async function* readFile(file: string): AsyncGenerator<Uint8Array> {
  for await (const chunk of createReadStream(file)) yield chunk as Buffer;
}

export async function readDescriptor(store: ArtifactStore, ref: ArtifactRef): Promise<CheckpointDescriptor> {
  const text = (await store.getBlob(ref)).toString('utf8');
  const value = JSON.parse(text) as CheckpointDescriptor;
  if (value.format !== DESCRIPTOR_FORMAT || !value.files || typeof value.step !== 'number') {
    throw new DeterministicError(`${ref.uri}: not a checkpoint descriptor (expected format ${DESCRIPTOR_FORMAT})`);
  }
  return value;
}

/**
 * Puts a checkpoint's files into `dir`, the metadata file last, and returns `dir`. On a local store a big file is
 * verified in place and hard-linked (no copy per attempt; the folder is only ever read, and removed by unlinking);
 * otherwise it is streamed and verified while written.
 */
export async function materialiseCheckpoint(store: ArtifactStore, ref: ArtifactRef, dir: string): Promise<string> {
  const descriptor = await readDescriptor(store, ref);
  await fs.mkdir(dir, { recursive: true });
  const names = Object.keys(descriptor.files).sort((a, b) => Number(a === META_FILE) - Number(b === META_FILE));
  for (const name of names) {
    if (name.includes('/') || name.startsWith('.')) throw new DeterministicError(`${ref.uri}: invalid file name ${JSON.stringify(name)}`);
    const file = descriptor.files[name];
    const tmp = path.join(dir, `${name}.part`);
    const local = file.bytes >= LINK_MIN_BYTES ? store.localBlobPath(file) : undefined;
    let linked = false;
    if (local) {
      const check = await store.verifyBlob(file);
      if (!check.ok) throw new StoreError(store.url, `${check.detail} (file ${name} of checkpoint ${ref.uri})`);
      linked = await fs.link(local, tmp).then(() => true, () => false); // another filesystem: copy below
    }
    if (!linked) await pipeline(await store.openBlob(file), createWriteStream(tmp));
    await fs.rename(tmp, path.join(dir, name));
  }
  return dir;
}

/** The newest checkpoint of a series among the store's latest manifest and a heartbeat-reported manifest key. */
export async function newestCheckpoint(
  store: ArtifactStore,
  series: string,
  heartbeatKey?: string,
): Promise<{ key: string; manifest: CheckpointManifest } | undefined> {
  const latest = await latestCheckpoint<Omit<CheckpointManifest, 'step'>>(store, series);
  let best = latest ? { key: latest.key, manifest: latest.manifest as CheckpointManifest } : undefined;
  if (heartbeatKey && heartbeatKey.startsWith(`${series}/`) && heartbeatKey !== best?.key) {
    const reported = await store.getJson<CheckpointManifest>(heartbeatKey);
    if (reported && (!best || reported.step > best.manifest.step)) best = { key: heartbeatKey, manifest: reported };
  }
  return best;
}
