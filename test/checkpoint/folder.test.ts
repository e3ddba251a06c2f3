import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { buildIoiVocab } from '../../ioi/corpus';
import { EOS_ID, Vocab } from '../../ioi/tokenizer';
import { tf } from '../../model/engine';
import { GPT2 } from '../../model/gpt2';
import { loadHfFolder, saveHfFolder } from '../../model/hf';
import { loadModel } from '../../checkpoint/load';
import { parseTrainConfig } from '../../train/config';
import { CheckpointInfo, loadCheckpoint, saveCheckpoint, summarizeLoss, verifyCheckpoint } from '../../checkpoint/folder';
import { modelConfigFromArch, parseArch } from '../../train/config';
import { PrefixVocab } from '../../model/vocab';
import { TINY_ARCH, tmpDir, useTestBackend } from '../train/helpers';

const FIXTURE = path.resolve(__dirname, '..', '..', '..', 'test', 'fixtures', 'tiny-gpt2');

function info(step: number): CheckpointInfo {
  return {
    backend: 'wasm', step, total_steps: 10, rng: [1, 2, 3, 4], cursor: { epoch: 1, index: 3 },
    train: parseTrainConfig({ steps: 10 }), data: { kind: 'ioi', n: 10, seed: 0, eval_n: 5, holdout_names: 0 },
    loss: summarizeLoss([[1, 3.5], [2, 3.25]]), metrics: null,
    parent: { dir: null, kind: 'init', step: null, model_sha256: null, init: { seed: 1 } }, status: 'running',
  };
}

async function weightsOf(m: GPT2): Promise<number[][]> {
  return Promise.all(m.variables().map(async (v) => Array.from(await v.data())));
}

test('checkpoint round trip: weights, moments, metadata; the folder is also a HF folder', async () => {
  await useTestBackend();
  const vocab = buildIoiVocab();
  const model = GPT2.init(modelConfigFromArch(parseArch(TINY_ARCH), vocab.size), 11);
  const m = model.variables().map((v, i) => Float32Array.from({ length: v.size }, (_, j) => (i + j) * 1e-3));
  const v = model.variables().map((x) => Float32Array.from({ length: x.size }, (_, j) => j * 1e-6));
  const dir = path.join(tmpDir('ckpt'), 'step-000007');
  const meta = await saveCheckpoint(dir, { model, vocab, optimizer: { step: 7, m, v }, info: info(7) });
  assert.deepEqual(Object.keys(meta.files).sort(), ['config.json', 'model.safetensors', 'optimizer.safetensors']);
  const loaded = loadCheckpoint(dir);
  assert.deepEqual(await weightsOf(loaded.model), await weightsOf(model));
  assert.equal(loaded.optimizer!.step, 7);
  assert.deepEqual(loaded.optimizer!.m.map((a) => Array.from(a)), m.map((a) => Array.from(a)));
  assert.deepEqual(loaded.optimizer!.v.map((a) => Array.from(a)), v.map((a) => Array.from(a)));
  assert.deepEqual(loaded.meta.cursor, { epoch: 1, index: 3 });
  assert.deepEqual(loaded.meta.rng, [1, 2, 3, 4]);
  assert.equal(loaded.vocab.size, vocab.size);
  assert.equal(loaded.vocab.toGpt2(loaded.vocab.padId), EOS_ID);
  const hf = loadHfFolder(dir);
  assert.deepEqual(await weightsOf(hf), await weightsOf(model));
  const viaLoader = loadModel(dir);
  assert.equal(viaLoader.meta.source, 'checkpoint');
  assert.equal(viaLoader.meta.step, 7);
  for (const x of [model, loaded.model, hf, viaLoader.model]) x.dispose();
});

test('a weights-only export has no optimizer file, and overwriting removes a stale one', async () => {
  await useTestBackend();
  const vocab = buildIoiVocab();
  const model = GPT2.init(modelConfigFromArch(parseArch(TINY_ARCH), vocab.size), 12);
  const dir = tmpDir('export');
  const zeros = model.variables().map((x) => new Float32Array(x.size));
  await saveCheckpoint(dir, { model, vocab, optimizer: { step: 1, m: zeros, v: zeros }, info: info(1) });
  await saveCheckpoint(dir, { model, vocab, info: { ...info(1), status: 'export' } });
  assert.equal(fs.existsSync(path.join(dir, 'optimizer.safetensors')), false);
  assert.equal(loadCheckpoint(dir).optimizer, null);
  model.dispose();
});

test('load verifies every file: corruption, truncation and an unfinished save name the file', async () => {
  await useTestBackend();
  const vocab = buildIoiVocab();
  const model = GPT2.init(modelConfigFromArch(parseArch(TINY_ARCH), vocab.size), 13);
  const zeros = model.variables().map((x) => new Float32Array(x.size));
  const save = async (label: string) => {
    const dir = tmpDir(label);
    await saveCheckpoint(dir, { model, vocab, optimizer: { step: 2, m: zeros, v: zeros }, info: info(2) });
    return dir;
  };
  const flipped = await save('flip');
  const bytes = fs.readFileSync(path.join(flipped, 'model.safetensors'));
  bytes[bytes.length - 3] ^= 0x40;
  fs.writeFileSync(path.join(flipped, 'model.safetensors'), bytes);
  assert.throws(() => loadCheckpoint(flipped), /model\.safetensors sha256 [0-9a-f]{64} does not match/);
  assert.throws(() => loadModel(flipped), /model\.safetensors sha256/);

  const truncated = await save('trunc');
  const opt = path.join(truncated, 'optimizer.safetensors');
  fs.truncateSync(opt, fs.statSync(opt).size - 100);
  assert.throws(() => verifyCheckpoint(truncated), /optimizer\.safetensors has \d+ bytes, expected \d+ \(truncated or modified\)/);

  const unfinished = await save('unfinished');
  fs.rmSync(path.join(unfinished, 'plasticity.json'));
  assert.throws(() => loadCheckpoint(unfinished), /no plasticity\.json \(the save did not complete\)/);
  assert.throws(() => loadModel(unfinished), /has optimizer\.safetensors but no plasticity\.json/);

  const missing = await save('missing');
  fs.rmSync(path.join(missing, 'config.json'));
  assert.throws(() => loadCheckpoint(missing), /config\.json is missing \(listed in plasticity\.json\)/);
  model.dispose();
});

test('loadModel reads plain HF folders: the committed fixture (id-prefix vocab) and a full-vocabulary model', async () => {
  await useTestBackend();
  const fixture = loadModel(FIXTURE);
  assert.equal(fixture.meta.source, 'hf');
  assert.ok(fixture.vocab instanceof PrefixVocab);
  assert.equal(fixture.vocab.size, 1000);
  assert.equal(fixture.vocab.padId, 999); // eos_token_id of its config.json
  assert.equal(fixture.vocab.fromGpt2(464), 464);
  assert.throws(() => fixture.vocab.fromGpt2(EOS_ID), /not in the GPT-2 id prefix vocabulary \[0, 1000\)/);
  fixture.model.dispose();

  const full = GPT2.init({ ...modelConfigFromArch(parseArch({ n_layer: 1, d_model: 16, n_head: 2, n_ctx: 16 }), 50257) }, 4);
  const dir = tmpDir('hf-full');
  await saveHfFolder(full, dir);
  const loaded = loadModel(dir);
  assert.equal(loaded.vocab, Vocab.full());
  const x = tf.tensor2d([[464, 3290, 50256]], [1, 3], 'int32');
  const a = tf.tidy(() => full.run(x).logits!.dataSync());
  const b = tf.tidy(() => loaded.model.run(x).logits!.dataSync());
  assert.deepEqual(Array.from(b), Array.from(a));
  full.dispose();
  loaded.model.dispose();
  assert.throws(() => loadModel(path.join(dir, 'nope')), /model folder .*nope: not found/);
});
