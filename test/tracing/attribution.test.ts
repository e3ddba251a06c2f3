// Attribution patching: equals exact patching to first order (small perturbation), both directions, per position,
// prompt-set weighting, and the Spearman correlation with exact patching is reported.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { initBackend, tf } from '../../model/engine';
import { hookName } from '../../model/hook-names';
import { activationPatching, activationPatchingPrepared } from '../../tracing/activation';
import { attributionPatching, attributionPatchingPrepared } from '../../tracing/attribution';
import { PreparedBatch, disposePrepared, prepareBatch } from '../../tracing/batched';
import { spearman } from '../../tracing/rank';
import { SMALL, assertClose, randomBatch, randomModel } from './patching-helpers';

const L = SMALL.n_layer;

/** Clean run cached twice; the "corrupt" z = clean z + eps·N(0, 1) (which = 'corrupt' for noising, 'clean' for denoising). */
function perturbed(seed: number, eps: number, which: 'clean' | 'corrupt') {
  const model = randomModel(seed);
  const b = randomBatch(seed + 1, 4, 8, SMALL.vocab, [1]);
  const same = { ...b, corrupt: b.clean };
  const zNames = Array.from({ length: L }, (_, l) => hookName.z(l));
  const p: PreparedBatch = prepareBatch(model, same, zNames);
  zNames.forEach((n, l) => {
    const old = p[which].cache[n];
    p[which].cache[n] = tf.tidy(() => tf.add(old, tf.mul(eps, tf.randomNormal(old.shape, 0, 1, 'float32', seed * 100 + l))));
    old.dispose();
  });
  return { model, p };
}

for (const direction of ['noising', 'denoising'] as const) {
  test(`attribution matches exact head patching for a small perturbation (${direction})`, async () => {
    await initBackend('wasm');
    const { model, p } = perturbed(31, 2e-3, direction === 'noising' ? 'corrupt' : 'clean');
    try {
      const exact = await activationPatchingPrepared(model, [p], { target: 'head_z', direction, skipUnchanged: false });
      const base = direction === 'noising' ? exact.clean : exact.corrupt;
      const exactDelta = exact.patched.values.map((v) => v - base);
      const attr = await attributionPatchingPrepared(model, [p], { direction, exact: exact.patched });
      const scale = Math.max(...exactDelta.map(Math.abs));
      assert.ok(scale > 1e-4, `the perturbation moves the metric (${scale})`);
      assertClose(attr.delta.values, exactDelta, 0.005 * scale, 'attribution vs exact delta');
      assert.ok(attr.rankCorrelation! > 0.95, `Spearman ${attr.rankCorrelation}`);
      assert.equal(attr.rankCorrelation, spearman(attr.delta.values, exact.patched.values));
      // the whole-head sum equals the per-position scores summed over positions
      const perPos = await attributionPatchingPrepared(model, [p], { direction, perPosition: true });
      const T = p.batch.T;
      const summed = Array.from({ length: attr.delta.values.length }, (_, i) => perPos.delta.values.slice(i * T, (i + 1) * T).reduce((a, v) => a + v, 0));
      assertClose(summed, attr.delta.values, 1e-6 + 1e-4 * scale, 'per position sums to per head');
    } finally {
      disposePrepared(p);
      model.dispose();
    }
  });
}

test('attribution on real corruptions: 2 forwards + 1 backward per batch, weighted over batches, correlated with exact', async () => {
  await initBackend('wasm');
  const model = randomModel(41);
  const b1 = randomBatch(42, 3, 8, SMALL.vocab, [2, 4]);
  const b2 = randomBatch(43, 5, 6, SMALL.vocab, [1, 3]);
  const exact = await activationPatching(model, [b1, b2], { target: 'head_z' });
  await attributionPatching(model, b1); // the model caches causal masks and (wasm) transposed weights once
  const before = tf.memory().numTensors;
  const attr = await attributionPatching(model, [b1, b2], { exact: exact.patched });
  assert.deepEqual(attr.stats.forwards, 4);
  assert.deepEqual(attr.stats.backwards, 2);
  assert.ok(Math.abs(attr.clean - exact.clean) < 1e-5 && Math.abs(attr.corrupt - exact.corrupt) < 1e-5);
  assertClose(attr.patched.values, attr.delta.values.map((d) => attr.clean + d), 1e-5, 'patched = clean + delta');
  const a1 = await attributionPatching(model, b1);
  const a2 = await attributionPatching(model, b2);
  assertClose(attr.delta.values, a1.delta.values.map((v, i) => (3 * v + 5 * a2.delta.values[i]) / 8), 1e-6, 'prompt-weighted');
  assert.ok(Number.isFinite(attr.rankCorrelation!) && attr.rankCorrelation! > 0, `Spearman ${attr.rankCorrelation}`);
  const split = await attributionPatching(model, [b1, b2], { memoryBudgetMB: 0.9 });
  assert.ok(split.stats.forwards > 4, 'batches were split to fit the budget');
  assertClose(split.delta.values, attr.delta.values, 1e-6, 'split by rows');
  assert.equal(attr.delta.metric.form, 'delta');
  assert.equal(tf.memory().numTensors, before, 'no tensors leak');
  model.dispose();
});
