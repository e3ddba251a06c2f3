// Assertions that a finished lineage left every stage's artifacts in the store: stage records, checkpoint
// manifests (epoch and final ones kept by retention), trace / CMAP / compare JSON, and a checkpoint that
// materialises into a verified folder.
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { materialiseCheckpoint, checkpointSeries, type CheckpointManifest } from '../../checkpoint/store';
import { resultKey } from '../../activities/cache';
import type { ArtifactStore } from '../../store/artifact-store';
import { listCheckpoints } from '../../checkpoint/series';
import { verifyCheckpoint } from '../../checkpoint/folder';
import type { LineageComparison, StageTrace } from '../../tracing/results';
import type { LineageResult, StageOutput } from '../../contract/lineage';
import { tmpDir } from './helpers';

const TRAIN_STAGES = ['base', 'finetune', 'corrupt', 'retrain'];

async function json<T>(store: ArtifactStore, ref: { uri: string; sha256: string; bytes: number; kind: string }): Promise<T> {
  return JSON.parse((await store.getBlob(ref)).toString('utf8')) as T;
}

export async function assertStoreHoldsLineage(store: ArtifactStore, result: LineageResult, retention: number): Promise<void> {
  const names = Object.keys(result.stages);
  for (const name of names) {
    const out: StageOutput = result.stages[name];
    const recorded = await store.getJson<StageOutput>(resultKey(out.key));
    assert.ok(recorded, `stage ${name}: ${resultKey(out.key)} is missing`);
    assert.equal(recorded.key, out.key);
    assert.ok(out.artifacts.length > 0, `stage ${name} has artifacts`);
    for (const ref of out.artifacts) assert.ok(await store.hasBlob(ref), `stage ${name}: blob ${ref.uri} is missing`);
  }

  for (const name of TRAIN_STAGES) {
    const out = result.stages[name];
    assert.ok(out, `stage ${name} is in the result`);
    const series = checkpointSeries(out.key);
    const checkpoints = await listCheckpoints(store, series);
    assert.ok(checkpoints.length > 0, `stage ${name}: no checkpoint manifests under ${series}`);
    const manifests = await Promise.all(checkpoints.map(async (c) => (await store.getJson<CheckpointManifest>(c.key))!));
    const last = manifests[manifests.length - 1];
    assert.equal(last.final, true, `stage ${name}: the newest checkpoint is the final one`);
    assert.equal(last.checkpoint.sha256, out.outputs.checkpoint.sha256);
    assert.equal(last.weightsSha256, out.weights?.checkpoint);
    assert.ok(manifests.filter((m) => !m.final).length <= retention, `stage ${name}: retention keeps at most ${retention} non-final checkpoints`);
  }
  // finetune: one kept checkpoint per epoch count
  const finetune = result.stages.finetune;
  const epochOutputs = Object.keys(finetune.outputs).filter((k) => k.startsWith('epoch-'));
  assert.ok(epochOutputs.length >= 2, 'finetune has an output per epoch count');
  for (const label of epochOutputs) {
    assert.ok(finetune.weights?.[label], `finetune ${label} has a weights hash`);
  }
  assert.notEqual(finetune.weights![epochOutputs[0]], finetune.weights![epochOutputs[epochOutputs.length - 1]], 'epoch checkpoints differ');

  // a checkpoint materialises into a folder whose files match its metadata
  const dir = await materialiseCheckpoint(store, result.stages.retrain.outputs.checkpoint, path.join(tmpDir('materialised'), 'retrain'));
  const meta = verifyCheckpoint(dir);
  assert.equal(meta.status, 'completed');

  // trace JSON for each traced model, CMAP where there was a donor, and the comparison
  const traceStages = names.filter((n) => n.startsWith('trace-'));
  assert.ok(traceStages.length >= 5, `trace stages: ${traceStages.join(', ')}`);
  for (const name of traceStages) {
    const trace = await json<StageTrace>(store, result.stages[name].outputs.trace);
    assert.equal(trace.schema, 'plasticity.stage-trace');
    assert.equal(`trace-${trace.stage}`, name);
    assert.ok(Object.keys(trace.headScores).length > 0, `${name} has head scores`);
    if (name !== 'trace-base') assert.ok(result.stages[name].outputs.cmap, `${name} has CMAP against its parent`);
  }
  const comparison = await json<LineageComparison>(store, result.compare);
  assert.equal(comparison.schema, 'plasticity.lineage-comparison');
  assert.deepEqual(comparison.stages.map((s) => `trace-${s.name}`), traceStages);
  assert.ok(comparison.restoration, 'the comparison has a restoration summary');
  assert.ok(Number.isFinite(result.headline['restoration.behavioural']), 'headline metrics include restoration');
}
