import { test } from 'node:test';
import assert from 'node:assert/strict';
import { activeBackend, tf } from '../../model/engine';
import { GPT2 } from '../../model/gpt2';
import type { Batch } from '../../train/data';
import { batchLoss, lossAndGradients } from '../../train/loop';
import { globalNorm } from '../../train/optimizer';
import { useTestBackend } from './helpers';

const CONFIG = { n_layer: 1, d_model: 16, n_head: 2, d_head: 8, d_mlp: 32, n_ctx: 16, vocab: 40, tied: true, ln_eps: 1e-5 };

/** Repeated tokens (the scatter must accumulate), answer loss at a per-row END, one row without a score. */
function batch(): Batch {
  const B = 3;
  const T = 5;
  const inputs = Int32Array.from([4, 9, 4, 4, 7, 1, 2, 3, 9, 9, 0, 39, 39, 5, 4]);
  return { inputs, B, T, at: Int32Array.from([4, 3, 2]), targets: Int32Array.from([9, 4, 39]), weights: Float32Array.from([1, 1, 0]), realTokens: B * T };
}

for (const tied of [true, false]) {
  test(`training gradients (${tied ? 'tied W_E: sparse lookup gradient scattered in JS' : 'untied'}) equal tf.variableGrads of the loss`, async () => {
    await useTestBackend();
    const before = tf.memory().numTensors;
    const model = GPT2.init({ ...CONFIG, tied }, 4);
    const vars = model.variables();
    const b = batch();
    tf.tidy(() => {
      const ref = tf.variableGrads(() => batchLoss(model, b), vars);
      const got = lossAndGradients(model, b);
      assert.ok(Math.abs(got.loss.dataSync()[0] - ref.value.dataSync()[0]) < 1e-6, 'same loss');
      vars.forEach((v, i) => {
        const g = got.grads[i];
        const a = g instanceof Float32Array ? g : (g.dataSync() as Float32Array);
        const r = ref.grads[v.name].dataSync() as Float32Array;
        assert.equal(a.length, r.length);
        let worst = 0;
        for (let j = 0; j < a.length; j++) worst = Math.max(worst, Math.abs(a[j] - r[j]));
        assert.ok(worst < 1e-6, `${activeBackend()}: gradient ${i} differs by ${worst}`);
      });
      const refNorm = globalNorm(vars.map((v) => ref.grads[v.name]));
      assert.ok(Math.abs(got.norm - refNorm) < 1e-5 * refNorm, `norm ${got.norm} vs ${refNorm}`);
      assert.ok(got.norm > 0);
    });
    model.dispose();
    assert.equal(tf.memory().numTensors, before, 'no tensors left behind');
  });
}
