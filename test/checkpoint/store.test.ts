// Checkpoint folders in the store (no Temporal): upload and materialise byte-for-byte, the resume point is the newer
// of the store's newest manifest and a heartbeat-reported one, retention keeps marked checkpoints, the stage cache
// finds a recorded stage only when all its blobs are present, and errors map to (non-)retryable failures.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { ApplicationFailure } from '@temporalio/common';
import { lookupStage, recordStage, stageKey } from '../../activities/cache';
import {
  checkpointSeries,
  commitCheckpoint,
  dropResumeState,
  materialiseCheckpoint,
  materialiseResume,
  newestCheckpoint,
  readDescriptor,
  weightsOnly,
} from '../../checkpoint/store';
import { toFailure } from '../../activities/errors';
import { ConfigError } from '../../config/load';
import { DeterministicError } from '../../errors/deterministic';
import { listCheckpoints } from '../../checkpoint/series';
import { openStore } from '../../store/open';
import type { StageOutput } from '../../contract/lineage';
import { tmpDir } from '../support/helpers';

function fakeCheckpoint(dir: string, step: number): string {
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ n_layer: 1 }));
  fs.writeFileSync(path.join(dir, 'model.safetensors'), Buffer.from(`weights at step ${step}`));
  fs.writeFileSync(path.join(dir, 'optimizer.safetensors'), Buffer.from(`moments at step ${step}`));
  fs.writeFileSync(path.join(dir, 'plasticity.json'), JSON.stringify({ step }));
  fs.writeFileSync(path.join(dir, 'notes.txt'), 'not part of a checkpoint');
  return dir;
}

test('a checkpoint folder round-trips through the store; resume picks the newest manifest', async () => {
  const store = openStore(tmpDir('ckpt-store'));
  const work = tmpDir('ckpt-work');
  const series = checkpointSeries('train-abc');
  const keys: string[] = [];
  for (const step of [4, 8, 12, 16]) {
    const { manifestKey } = await commitCheckpoint(store, series, fakeCheckpoint(path.join(work, `s${step}`), step), step, {
      keepLast: 2,
      ...(step === 4 ? { label: 'epoch-1', final: true } : {}),
    });
    keys.push(manifestKey);
  }
  // retention: the last two plus the marked one
  assert.deepEqual((await listCheckpoints(store, series)).map((c) => c.step), [4, 12, 16]);

  const newest = await newestCheckpoint(store, series);
  assert.equal(newest?.manifest.step, 16);
  // a heartbeat pointing at an older manifest does not win; a missing one is ignored
  assert.equal((await newestCheckpoint(store, series, keys[2]))?.manifest.step, 16);
  assert.equal((await newestCheckpoint(store, series, keys[1]))?.manifest.step, 16);
  assert.equal(await newestCheckpoint(store, checkpointSeries('train-none')), undefined);

  const out = await materialiseCheckpoint(store, newest!.manifest.checkpoint, path.join(work, 'restored'));
  assert.deepEqual(fs.readdirSync(out).sort(), ['config.json', 'model.safetensors', 'optimizer.safetensors', 'plasticity.json']);
  for (const f of fs.readdirSync(out)) assert.deepEqual(fs.readFileSync(path.join(out, f)), fs.readFileSync(path.join(work, 's16', f)));
  assert.equal(newest!.manifest.weightsSha256.length, 64);
});

test('the stage cache: keys depend on every input; a record counts only with all its blobs', async () => {
  const store = openStore(tmpDir('cache-store'));
  const base = { kind: 'train' as const, parents: ['a'.repeat(64)], config: { lr: 1, steps: 8 }, codeVersion: 'v1' };
  const key = stageKey(base);
  assert.match(key, /^train-[0-9a-f]{32}$/);
  assert.equal(stageKey({ ...base, config: { steps: 8, lr: 1 } }), key, 'key order does not matter');
  for (const changed of [{ parents: ['b'.repeat(64)] }, { config: { lr: 2, steps: 8 } }, { codeVersion: 'v2' }]) {
    assert.notEqual(stageKey({ ...base, ...changed }), key);
  }
  const lookupInput = { ...base, stage: 'finetune', store: store.url };
  assert.deepEqual(await lookupStage(store, lookupInput), { key });

  const blob = await store.putBlob(Buffer.from('trained'), 'checkpoint');
  const output: StageOutput = {
    stage: 'finetune', kind: 'train', key, outputs: { checkpoint: blob }, artifacts: [blob], metrics: { steps: 8 },
    startedAt: new Date().toISOString(), finishedAt: new Date().toISOString(),
  };
  await recordStage(store, output);
  const found = await lookupStage(store, { ...lookupInput, stage: 'renamed' });
  assert.equal(found.cached?.stage, 'renamed');
  assert.equal(found.cached?.metrics.steps, 8);

  await store.delete(blob.uri.slice(blob.uri.indexOf('/blobs/') + 1));
  assert.deepEqual(await lookupStage(store, lookupInput), { key }, 'a record whose blob is gone is not reused');
  const candidate = { ...output, key: 'train-' + '0'.repeat(32) };
  assert.deepEqual(await lookupStage(store, { ...lookupInput, candidate }), { key }, 'a candidate with another key is not reused');
});

test('config and data errors become non-retryable failures; others stay retryable', () => {
  const bad = toFailure(new ConfigError('trace.n: expected number', 'trace.n'), 'stage x') as ApplicationFailure;
  assert.equal(bad.type, 'InvalidConfig');
  assert.equal(bad.nonRetryable, true);
  const data = toFailure(new DeterministicError("IOI prompt 3: token 9999 is not in the model's compact vocabulary"), 'stage finetune') as ApplicationFailure;
  assert.equal(data.type, 'DataError');
  assert.equal(data.nonRetryable, true);
  assert.match(data.message, /^stage finetune: IOI prompt 3/);
  const io = toFailure(new Error('ECONNRESET while uploading'), 'stage finetune');
  assert.ok(!(io instanceof ApplicationFailure) || !io.nonRetryable);
});

test('moments live only in in-progress checkpoints: outputs are weights-only, a completed stage drops them, resume skips outputs', async () => {
  const root = tmpDir('moments-store');
  const store = openStore(root);
  const work = tmpDir('moments-work');
  const series = checkpointSeries('train-moments');
  const big = (label: string) => Buffer.alloc(2 << 20, label); // > 1 MiB: materialised by hard link
  const folder = (step: number) => {
    const dir = fakeCheckpoint(path.join(work, `s${step}`), step);
    fs.writeFileSync(path.join(dir, 'model.safetensors'), big(`w${step}`));
    fs.writeFileSync(path.join(dir, 'optimizer.safetensors'), big(`m${step}`));
    fs.writeFileSync(path.join(dir, 'plasticity.json'), JSON.stringify({ step, files: { 'model.safetensors': {}, 'optimizer.safetensors': {} } }));
    return dir;
  };
  const committed = new Map<number, Awaited<ReturnType<typeof commitCheckpoint>>>();
  for (const step of [4, 8, 12]) {
    committed.set(step, await commitCheckpoint(store, series, folder(step), step, { keepLast: 1, link: true, ...(step === 4 ? { label: 'epoch-1', final: true } : {}) }));
    fs.rmSync(path.join(work, `s${step}`), { recursive: true }); // what the activity does after a commit
  }
  const optimizerBlob = async (step: number) => (await readDescriptor(store, committed.get(step)!.uploaded.ref)).files['optimizer.safetensors'];
  // retention deleted step 8's manifest, and with it its moments (nothing else references them)
  assert.equal(await store.hasBlob(await optimizerBlob(8)), false, 'retention drops the moments of a dropped checkpoint');
  assert.equal(await store.hasBlob(await optimizerBlob(12)), true);

  // While the stage runs, resume takes the newest checkpoint with moments, materialised by hard links (no copy).
  const resumed = await materialiseResume(store, series, undefined, path.join(work, 'resume'));
  assert.equal(resumed?.manifest.step, 12);
  const weightsRef = (await readDescriptor(store, committed.get(12)!.uploaded.ref)).files['model.safetensors'];
  assert.equal(fs.statSync(path.join(resumed!.dir, 'model.safetensors')).ino, fs.statSync(store.localBlobPath(weightsRef)!).ino);

  // The stage completes: outputs become weights-only, the in-progress manifest and all moments go.
  const epoch1 = await weightsOnly(store, committed.get(4)!.uploaded.ref);
  const final = await weightsOnly(store, committed.get(12)!.uploaded.ref);
  const slim = await readDescriptor(store, final);
  assert.deepEqual(Object.keys(slim.files).sort(), ['config.json', 'model.safetensors', 'plasticity.json']);
  const meta = JSON.parse((await store.getBlob(slim.files['plasticity.json'])).toString('utf8'));
  assert.deepEqual(Object.keys(meta.files), ['model.safetensors'], 'plasticity.json no longer lists the moments');
  await dropResumeState(store, series, new Map([[4, { ref: epoch1, label: 'epoch-1' }], [12, { ref: final, label: 'checkpoint' }]]));
  for (const step of [4, 12]) assert.equal(await store.hasBlob(await optimizerBlob(step)), false, `moments of step ${step} dropped`);
  assert.deepEqual((await listCheckpoints(store, series)).map((c) => c.step), [4, 12]);
  // Nothing of a completed stage is resumable: a recompute starts over rather than from an output.
  assert.equal(await materialiseResume(store, series, undefined, path.join(work, 'resume2')), undefined);

  // A linked materialisation refuses a corrupt blob instead of handing it over.
  fs.rmSync(path.join(work, 'resume'), { recursive: true });
  const blobFile = store.localBlobPath(weightsRef)!;
  const bytes = fs.readFileSync(blobFile);
  bytes[10] ^= 1;
  fs.rmSync(blobFile);
  fs.writeFileSync(blobFile, bytes);
  await assert.rejects(materialiseCheckpoint(store, final, path.join(work, 'bad')), /checksum mismatch/);
});
