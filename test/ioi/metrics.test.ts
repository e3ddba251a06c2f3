import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gatherEndLogits, ioiMetrics, labelIds, logitDiffs } from '../../ioi/metrics';
import { generateIoi } from '../../ioi/dataset';
import { buildIoiVocab } from '../../ioi/corpus';

// V = 4; io/s ids per row chosen by hand.
const V = 4;
const logits = new Float32Array([
  // row 0: io=1 (3), s=2 (1) -> LD 2, argmax 1 = io
  0, 3, 1, 0,
  // row 1: io=0 (1), s=3 (2) -> LD -1, argmax 3 != io
  1, 0, 0, 2,
  // row 2: io=2 (5), s=1 (1) -> LD 4, argmax 2 = io
  0, 1, 5, 0,
]);
const io = [1, 0, 2];
const s = [2, 3, 1];

test('logit difference, accuracies and probability on hand-built logits', () => {
  assert.deepEqual([...logitDiffs(logits, V, io, s)], [2, -1, 4]);
  const m = ioiMetrics(logits, V, io, s);
  assert.equal(m.n, 3);
  assert.ok(Math.abs(m.logitDiff - 5 / 3) < 1e-12);
  const mean = 5 / 3;
  const std = Math.sqrt(((2 - mean) ** 2 + (-1 - mean) ** 2 + (4 - mean) ** 2) / 2);
  assert.ok(Math.abs(m.logitDiffStd - std) < 1e-12);
  assert.ok(Math.abs(m.pairwiseAcc - 2 / 3) < 1e-12);
  assert.ok(Math.abs(m.top1Acc - 2 / 3) < 1e-12);
  const softmax = (row: number[], k: number) => Math.exp(row[k]) / row.reduce((a, x) => a + Math.exp(x), 0);
  const p = (softmax([0, 3, 1, 0], 1) + softmax([1, 0, 0, 2], 0) + softmax([0, 1, 5, 0], 2)) / 3;
  assert.ok(Math.abs(m.ioProb - p) < 1e-6, `${m.ioProb} vs ${p}`);
});

test('probabilities are stable for huge logits and sum to one over tokens', () => {
  const big = new Float32Array([1000, 1000, 0, -1000]);
  const m = ioiMetrics(big, V, [0], [2]);
  assert.ok(Math.abs(m.ioProb - 0.5) < 1e-9);
  let total = 0;
  for (let k = 0; k < V; k++) total += ioiMetrics(logits.subarray(0, V), V, [k], [(k + 1) % V]).ioProb;
  assert.ok(Math.abs(total - 1) < 1e-6);
});

test('a getter gives the same result as the flat array; shape errors name the expectation', () => {
  const getter = (b: number) => logits.subarray(b * V, (b + 1) * V);
  assert.deepEqual(ioiMetrics(getter, V, io, s), ioiMetrics(logits, V, io, s));
  assert.deepEqual(ioiMetrics(Array.from(logits), V, io, s), ioiMetrics(logits, V, io, s));
  assert.throws(() => ioiMetrics(logits, 5, io, s), /expected B\*V = 3\*5 = 15 values, got 12/);
  assert.throws(() => ioiMetrics(logits, V, [1, 0, 9], s), /io\[2\]: expected a token id in \[0, 4\)/);
  assert.throws(() => ioiMetrics(logits, V, [1], s), /same length/);
});

test('gatherEndLogits picks the END rows; labelIds maps through the vocab', () => {
  const B = 2, T = 3;
  const full = Float32Array.from({ length: B * T * V }, (_, i) => i);
  const end = gatherEndLogits(full, B, T, V, [1, 2]);
  assert.deepEqual([...end], [4, 5, 6, 7, 20, 21, 22, 23]);
  assert.throws(() => gatherEndLogits(full, B, T, V, [1, 3]), /endIndex\[1\] must be in \[0, 3\)/);
  const prompts = generateIoi({ n: 5, seed: 1 });
  const vocab = buildIoiVocab();
  const ids = labelIds(prompts, vocab);
  prompts.forEach((p, i) => {
    assert.equal(vocab.toGpt2(ids.io[i]), p.ioTok);
    assert.equal(vocab.toGpt2(ids.s[i]), p.sTok);
  });
});
