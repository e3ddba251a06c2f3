// The GPT2.run options tracing relies on for speed: endLayer (layer-by-layer passes), lastBlockRows (top block at END
// only) and the inference matmul whose gradient is w.r.t. activations only (attribution on wasm).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { initBackend, tf } from '../../model/engine';
import { hookName } from '../../model/hook-names';
import { SMALL, randomModel } from '../tracing/patching-helpers';

const tokens = () => tf.tensor2d(Int32Array.from({ length: 3 * 7 }, (_, i) => (i * 17 + 5) % SMALL.vocab), [3, 7], 'int32');
const maxDiff = (a: tf.Tensor, b: tf.Tensor) => tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]);

test('endLayer + startLayer chained block by block equals one full pass', async () => {
  await initBackend('wasm');
  const m = randomModel(71);
  tf.tidy(() => {
    const x = tokens();
    const full = m.run(x, { logitsAt: 'all' }).logits!;
    let resid = m.run(x, { endLayer: 1, cache: [hookName.residPost(0)] }).cache[hookName.residPost(0)] as tf.Tensor3D;
    for (let l = 1; l < SMALL.n_layer - 1; l++) resid = m.run(x, { startLayer: l, endLayer: l + 1, residPre: resid, cache: [hookName.residPost(l)] }).cache[hookName.residPost(l)] as tf.Tensor3D;
    const chained = m.run(x, { startLayer: SMALL.n_layer - 1, residPre: resid, logitsAt: 'all' }).logits!;
    assert.ok(maxDiff(full, chained) < 1e-5);
    assert.equal(m.run(x, { endLayer: 2 }).logits, undefined, 'no logits below the top');
    assert.throws(() => m.run(x, { startLayer: 2, residPre: resid, endLayer: 1 }), /endLayer 1 is outside/);
  });
  m.dispose();
});

test('lastBlockRows gives the END logits of a full pass, with row-restricted top-block hooks', async () => {
  await initBackend('wasm');
  const m = randomModel(72);
  tf.tidy(() => {
    const x = tokens();
    const at = Int32Array.from([6, 3, 5]);
    const full = m.run(x, { logitsAt: at }).logits!;
    const top = SMALL.n_layer - 1;
    const { logits, cache } = m.run(x, { logitsAt: at, lastBlockRows: at, cache: [hookName.z(top), hookName.k(top), hookName.pattern(top)] });
    assert.ok(maxDiff(full, logits!) < 1e-5);
    assert.deepEqual(cache[hookName.z(top)].shape, [3, 1, SMALL.n_head, SMALL.d_head]);
    assert.deepEqual(cache[hookName.k(top)].shape, [3, 7, SMALL.n_head, SMALL.d_head]);
    assert.deepEqual(cache[hookName.pattern(top)].shape, [3, SMALL.n_head, 1, 7]);
    // row 1 attends only to positions ≤ 3
    const pat = cache[hookName.pattern(top)].arraySync() as number[][][][];
    assert.ok(pat[1].every((h) => h[0].slice(4).every((p) => p === 0)));
    assert.throws(() => m.run(x, { logitsAt: 'all', lastBlockRows: at }), /logitsAt must be/);
    assert.throws(() => m.run(x, { logitsAt: 'none', lastBlockRows: [1, 2] }), /2 positions for a batch of 3/);
  });
  m.dispose();
});

test('gradients w.r.t. activations outside training agree between wasm and cpu', async () => {
  const grad = async (backend: 'wasm' | 'cpu') => {
    await initBackend(backend);
    const m = randomModel(73); // seeded init: the same weights on both backends
    const x = tokens();
    const delta = tf.zeros([3, 7, SMALL.n_head, SMALL.d_head]);
    const g = tf.grad((d: tf.Tensor) => tf.sum(m.run(x, { hooks: { [hookName.z(0)]: (z) => tf.add(z, d) }, logitsAt: [6, 3, 5] }).logits!))(delta);
    const out = g.dataSync().slice();
    [x, delta, g].forEach((t) => t.dispose());
    m.dispose();
    return out;
  };
  const w = await grad('wasm');
  const c = await grad('cpu');
  let maxAbs = 0;
  let scale = 0;
  for (let i = 0; i < w.length; i++) {
    maxAbs = Math.max(maxAbs, Math.abs(w[i] - c[i]));
    scale = Math.max(scale, Math.abs(c[i]));
  }
  assert.ok(scale > 1e-3 && maxAbs < 1e-4 * scale + 1e-6, `max |Δ| ${maxAbs} at scale ${scale}`);
});

