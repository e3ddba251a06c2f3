// Checkpoint folders ⇄ the artifact store. A folder's files become content-addressed blobs; a small JSON descriptor
// blob ({format, step, files}) names them and is the checkpoint's ArtifactRef. The per-stage manifest series
// (store/checkpoints.ts) points at descriptors; the manifest is written last, so a visible one is always complete.
import { createReadStream, createWriteStream, promises as fs } from 'node:fs';
import * as path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { ArtifactStore } from '../store/artifact-store';
import { applyRetention, latestCheckpoint, putCheckpointManifest } from '../store/checkpoints';
import type { ArtifactRef } from '../shared/types';
import { DeterministicError } from '../shared/errors';

export const DESCRIPTOR_FORMAT = 'plasticity-checkpoint-files';
/** Written last into a materialised folder (it marks the folder complete). */
const MARKER_FILE = 'plasticity.json';
const WEIGHTS_FILE = 'model.safetensors';
/** The files of a model/checkpoint folder that are stored (anything else in an HF folder is ignored). */
export const CHECKPOINT_FILES = ['config.json', 'model.safetensors', 'optimizer.safetensors', 'plasticity.json'];

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

/** Uploads the files of a checkpoint (or model) folder as blobs, then a descriptor blob naming them. */
export async function uploadCheckpointFolder(store: ArtifactStore, dir: string, step: number): Promise<UploadedCheckpoint> {
  const names = (await fs.readdir(dir, { withFileTypes: true }))
    .filter((e) => e.isFile() && CHECKPOINT_FILES.includes(e.name))
    .map((e) => e.name)
    .sort();
  if (!names.includes(WEIGHTS_FILE)) throw new DeterministicError(`checkpoint folder ${dir}: no ${WEIGHTS_FILE}`);
  const files: Record<string, ArtifactRef> = {};
  for (const name of names) files[name] = await store.putBlob(readFile(path.join(dir, name)), 'checkpoint-file');
  const descriptor: CheckpointDescriptor = { format: DESCRIPTOR_FORMAT, step, files };
  const ref = await store.putBlob(Buffer.from(JSON.stringify(descriptor, null, 2)), 'checkpoint');
  return { step, ref, weightsSha256: files[WEIGHTS_FILE].sha256 };
}

/** Uploads a folder and commits it as the series' checkpoint at `step` (manifest last), then applies retention. */
export async function commitCheckpoint(
  store: ArtifactStore,
  series: string,
  dir: string,
  step: number,
  opts: { label?: string; final?: boolean; keepLast: number },
): Promise<{ manifestKey: string; uploaded: UploadedCheckpoint }> {
  const uploaded = await uploadCheckpointFolder(store, dir, step);
  const manifest: Omit<CheckpointManifest, 'step'> = {
    checkpoint: uploaded.ref,
    weightsSha256: uploaded.weightsSha256,
    ...(opts.label ? { label: opts.label } : {}),
    ...(opts.final ? { final: true } : {}),
  };
  const manifestKey = await putCheckpointManifest(store, series, step, manifest);
  await applyRetention(store, series, opts.keepLast);
  return { manifestKey, uploaded };
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

/** Writes a checkpoint's files into `dir` (verified while streaming), the metadata file last. Returns `dir`. */
export async function materialiseCheckpoint(store: ArtifactStore, ref: ArtifactRef, dir: string): Promise<string> {
  const descriptor = await readDescriptor(store, ref);
  await fs.mkdir(dir, { recursive: true });
  const names = Object.keys(descriptor.files).sort((a, b) => Number(a === MARKER_FILE) - Number(b === MARKER_FILE));
  for (const name of names) {
    if (name.includes('/') || name.startsWith('.')) throw new DeterministicError(`${ref.uri}: invalid file name ${JSON.stringify(name)}`);
    const tmp = path.join(dir, `${name}.part`);
    await pipeline(await store.openBlob(descriptor.files[name]), createWriteStream(tmp));
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
