import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tf } from '../../model/engine';
import { Adam, clipByGlobalNorm, lrAt } from '../../train/optimizer';
import { useTestBackend } from './helpers';

/** Float64 reference of one Adam(W) update on plain arrays. */
function refStep(p: number[], g: number[], m: number[], v: number[], t: number, lr: number, o: { b1: number; b2: number; eps: number; wd: number; decoupled: boolean }) {
  for (let i = 0; i < p.length; i++) {
    let gi = g[i];
    if (!o.decoupled) gi += o.wd * p[i];
    m[i] = o.b1 * m[i] + (1 - o.b1) * gi;
    v[i] = o.b2 * v[i] + (1 - o.b2) * gi * gi;
    const mh = m[i] / (1 - o.b1 ** t);
    const vh = v[i] / (1 - o.b2 ** t);
    p[i] -= lr * (mh / (Math.sqrt(vh) + o.eps) + (o.decoupled ? o.wd * p[i] : 0));
  }
}

for (const decoupled of [true, false]) {
  test(`Adam${decoupled ? 'W' : ' (L2)'} matches a float64 reference over 6 steps`, async () => {
    await useTestBackend();
    const init = [0.5, -1.25, 2, 0.1, -0.3, 0.75];
    const w = tf.variable(tf.tensor2d(init, [2, 3]));
    const opts = { b1: 0.9, b2: 0.99, eps: 1e-8, wd: 0.1, decoupled };
    const adam = new Adam([w], { betas: [opts.b1, opts.b2], eps: opts.eps, weightDecay: opts.wd, decoupled });
    const p = [...init];
    const m = p.map(() => 0);
    const v = p.map(() => 0);
    for (let t = 1; t <= 6; t++) {
      const g = p.map((_, i) => Math.sin(t + i) * 2);
      const gT = tf.tensor2d(g, [2, 3]);
      adam.apply([gT], 0.01);
      refStep(p, g, m, v, t, 0.01, opts);
      gT.dispose();
    }
    const got = Array.from(await w.data());
    got.forEach((x, i) => assert.ok(Math.abs(x - p[i]) < 1e-5, `param ${i}: ${x} vs reference ${p[i]}`));
    assert.equal(adam.step, 6);
    adam.dispose();
    w.dispose();
  });
}

test('Adam state exports and imports exactly: continuing from it is bit-identical', async () => {
  await useTestBackend();
  const mk = () => tf.variable(tf.tensor1d([0.3, -0.7, 1.1, 0.05]));
  const grads = (t: number) => [tf.tensor1d([Math.cos(t), Math.sin(t), t / 10, -t / 7])];
  const opts = { betas: [0.9, 0.999] as const, eps: 1e-8, weightDecay: 0, decoupled: true };
  const a = mk();
  const adamA = new Adam([a], opts);
  for (let t = 1; t <= 3; t++) adamA.apply(grads(t), 0.05);
  const state = await adamA.exportState();
  const b = tf.variable(tf.tensor1d(Array.from(await a.data())));
  const adamB = new Adam([b], opts, state);
  assert.equal(adamB.step, 3);
  for (let t = 4; t <= 6; t++) {
    adamA.apply(grads(t), 0.05);
    adamB.apply(grads(t), 0.05);
  }
  assert.deepEqual(Array.from(await b.data()), Array.from(await a.data()));
  assert.throws(() => new Adam([mk()], opts, { step: 1, m: [new Float32Array(3)], v: [new Float32Array(4)] }), /m\[0\] has 3 values, expected 4/);
  const before = tf.memory().numTensors;
  new Adam([a], opts, state).dispose();
  new Adam([a], opts).dispose();
  assert.equal(tf.memory().numTensors, before, 'creating and disposing an optimizer leaves no tensors behind');
});

test('global-norm clipping scales only above the limit and reports the pre-clip norm', async () => {
  await useTestBackend();
  const g = [tf.tensor1d([3, 0]), tf.tensor2d([[0, 4]])]; // norm 5
  const clipped = clipByGlobalNorm(g, 1);
  assert.ok(Math.abs((await clipped.norm.data())[0] - 5) < 1e-6);
  assert.deepEqual(Array.from(await clipped.grads[0].data()).map((x) => +x.toFixed(6)), [0.6, 0]);
  assert.deepEqual(Array.from(await clipped.grads[1].data()).map((x) => +x.toFixed(6)), [0, 0.8]);
  const loose = clipByGlobalNorm(g, 10);
  assert.deepEqual(Array.from(await loose.grads[0].data()), [3, 0]);
  const off = clipByGlobalNorm(g, null);
  assert.deepEqual(Array.from(await off.grads[1].data()), [0, 4]);
});

test('lr schedules: warmup, constant, linear and cosine decay to min_lr_ratio', () => {
  const base = { lr: 1, warmup: 10, min_lr_ratio: 0.1 };
  assert.equal(lrAt(0, 110, { ...base, schedule: 'constant' }), 0.1);
  assert.equal(lrAt(9, 110, { ...base, schedule: 'constant' }), 1);
  assert.equal(lrAt(100, 110, { ...base, schedule: 'constant' }), 1);
  assert.equal(lrAt(10, 110, { ...base, schedule: 'linear' }), 1);
  assert.ok(Math.abs(lrAt(60, 110, { ...base, schedule: 'linear' }) - 0.55) < 1e-12);
  assert.ok(Math.abs(lrAt(110, 110, { ...base, schedule: 'linear' }) - 0.1) < 1e-12);
  assert.ok(Math.abs(lrAt(60, 110, { ...base, schedule: 'cosine' }) - 0.55) < 1e-12);
  assert.ok(Math.abs(lrAt(35, 110, { ...base, schedule: 'cosine' }) - (0.1 + 0.9 * 0.5 * (1 + Math.cos(Math.PI / 4)))) < 1e-12);
  assert.ok(Math.abs(lrAt(110, 110, { ...base, schedule: 'cosine' }) - 0.1) < 1e-12);
});
