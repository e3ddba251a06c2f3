import { test } from 'node:test';
import assert from 'node:assert/strict';
import { modelConfigFromArch, parseArch, parseDataSpec, parseTrainConfig, totalSteps } from '../../train/config';
import { DEFAULT_BASE } from '../../train/defaults';

test('train config: defaults fill every field', () => {
  const c = parseTrainConfig({});
  assert.equal(c.loss, 'answer');
  assert.equal(c.optimizer, 'adamw');
  assert.deepEqual(c.betas, [0.9, 0.999]);
  assert.equal(c.clip, 1);
  assert.equal(c.steps, undefined);
  assert.equal(totalSteps(c, 100), Math.ceil(100 / c.batch_size));
  assert.equal(totalSteps(parseTrainConfig({ epochs: 2.5, batch_size: 10 }), 33), 9);
  assert.equal(totalSteps(parseTrainConfig({ steps: 7, epochs: 9 }), 1000), 7);
});

test('train config: unknown keys and bad values are errors naming the field', () => {
  assert.throws(() => parseTrainConfig({ learning_rate: 1 }), /^Error: train: unknown key\(s\) "learning_rate"/);
  assert.throws(() => parseTrainConfig({ lr: 'fast' }), /train\.lr: .*expected number/);
  assert.throws(() => parseTrainConfig({ loss: 'full' }), /train\.loss: .*"answer"\|"sentence"/);
  assert.throws(() => parseTrainConfig({ betas: [0.9, 1.5] }), /train\.betas\.1:/);
  assert.throws(() => parseTrainConfig({ batch_size: 0 }), /train\.batch_size:/);
});

test('arch: d_head and d_mlp default from d_model; divisibility is checked', () => {
  const a = parseArch({ n_layer: 2, d_model: 64, n_head: 4 });
  const mc = modelConfigFromArch(a, 172);
  assert.deepEqual([mc.d_head, mc.d_mlp, mc.n_ctx, mc.vocab, mc.tied], [16, 256, 32, 172, true]);
  assert.throws(() => parseArch({ n_layer: 2, d_model: 65, n_head: 4 }), /arch\.d_head: d_model must be divisible by n_head/);
  assert.throws(() => parseArch({ n_layer: 2, d_model: 64, n_head: 4, vocab: 100 }), /arch: unknown key\(s\) "vocab"/);
});

test('data spec: discriminated by kind, strict per kind', () => {
  assert.equal(parseDataSpec({ kind: 'ioi', n: 10 }).eval_n, 200);
  assert.throws(() => parseDataSpec({ kind: 'ioi', n: 10, mix: { ioi: 1 } }), /data: unknown key\(s\) "mix"/);
  assert.throws(() => parseDataSpec({ kind: 'text', n: 10 }), /data\.kind:/);
  assert.throws(() => parseDataSpec({ kind: 'corpus', n: 10, poison: { transform: 'subject' } }), /unknown key/);
});

test('DEFAULT_BASE parses with the exported schemas', () => {
  parseArch(DEFAULT_BASE.arch);
  parseTrainConfig(DEFAULT_BASE.train);
  assert.equal(parseDataSpec(DEFAULT_BASE.corpus).kind, 'corpus');
});
