// Activation patching invariants on a small random model: identity patches, full-replacement patches, batched vs
// one-by-one, per-row named positions, both directions, and prompt sets of several lengths.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { initBackend, tf } from '../../model/engine';
import { hookName } from '../../model/hook-names';
import { patchFrom } from '../../model/patch';
import { TraceBatch } from '../../tracing/batch';
import { ACTIVATION_TARGETS, activationPatching, runPatchedVariants } from '../../tracing/activation';
import { Variant, disposePrepared, prepareBatch } from '../../tracing/batched';
import { SMALL, assertClose, plainCache, randomBatch, randomModel, referenceLd } from './patching-helpers';

const L = SMALL.n_layer;
const H = SMALL.n_head;

test('patching clean into clean changes nothing (every target, both directions, passes actually run)', async () => {
  await initBackend('wasm');
  const model = randomModel(1);
  const b = randomBatch(2, 4, 8, SMALL.vocab, [1, 3]);
  const same: TraceBatch = { ...b, corrupt: b.clean };
  for (const target of ACTIVATION_TARGETS) {
    for (const direction of ['noising', 'denoising'] as const) {
      const r = await activationPatching(model, same, { target, direction, skipUnchanged: false });
      assert.ok(r.stats.passes > 0 && r.stats.skipped === 0);
      assertClose(r.patched.values, new Float32Array(r.patched.values.length).fill(r.clean), 2e-5, `${target} ${direction}`);
    }
  }
  model.dispose();
});

test('patching every head z at every position reproduces the other run at END (END token shared); not where tokens differ', async () => {
  await initBackend('wasm');
  const model = randomModel(3);
  // At a position whose own token is the same in both runs, resid = embedding + Σ attn_out + Σ mlp_out, and each MLP
  // reads only its own position: once every head's z comes from the other run, everything at END does too.
  const shared = randomBatch(4, 4, 8, SMALL.vocab, [1, 2, 5]);
  const endDiffers = randomBatch(4, 4, 8, SMALL.vocab, [1, 2, 5, 7]);
  const names = Array.from({ length: L }, (_, l) => [hookName.z(l), hookName.mlpOut(l), hookName.attnOut(l)]).flat();
  const allZ: Variant = Array.from({ length: L }, (_, l) => ({ hook: hookName.z(l), layer: l }));
  const allMlp: Variant = Array.from({ length: L }, (_, l) => ({ hook: hookName.mlpOut(l), layer: l }));
  const embed: Variant = [{ hook: hookName.residPre(0), layer: 0 }];
  const variants = [allZ, [...allZ, ...allMlp], embed];
  for (const b of [shared, endDiffers]) {
    const p = prepareBatch(model, b, names);
    try {
      const clean = p.clean.ld.reduce((a, v) => a + v, 0) / b.n;
      const corrupt = p.corrupt.ld.reduce((a, v) => a + v, 0) / b.n;
      assert.ok(Math.abs(clean - corrupt) > 0.05, 'the corruption changes the metric');
      const noising = await runPatchedVariants(model, [p], variants, 'noising', { key: 'n' });
      const denoising = await runPatchedVariants(model, [p], variants, 'denoising', { key: 'd' });
      if (b === shared) {
        assert.ok(Math.abs(noising.values[0] - corrupt) < 1e-5, `all z from corrupt: ${noising.values[0]} vs corrupt ${corrupt}`);
        assert.ok(Math.abs(denoising.values[0] - clean) < 1e-5, `all z from clean: ${denoising.values[0]} vs clean ${clean}`);
      } else {
        assert.ok(Math.abs(noising.values[0] - corrupt) > 1e-3, 'END token differs: its embedding (and its MLP inputs) stay clean');
        assert.ok(Math.abs(noising.values[1] - corrupt) > 1e-3, 'still differs with every MLP output patched too (embedding at END)');
      }
      assert.ok(Math.abs(noising.values[2] - corrupt) < 1e-5 && Math.abs(denoising.values[2] - clean) < 1e-5, 'resid_pre[0] everywhere = the other run');
      // All heads of one layer at all positions = that layer's attention output at all positions.
      const perLayer = Array.from({ length: L }, (_, l): Variant => [{ hook: hookName.z(l), layer: l }]);
      const attn = Array.from({ length: L }, (_, l): Variant => [{ hook: hookName.attnOut(l), layer: l }]);
      const a = await runPatchedVariants(model, [p], perLayer, 'noising', { key: 'a' });
      const c = await runPatchedVariants(model, [p], attn, 'noising', { key: 'c' });
      assertClose(a.values, c.values, 1e-5, 'all heads of layer l vs attn_out[l]');
    } finally {
      disposePrepared(p);
    }
  }
  model.dispose();
});

test('batched sweeps equal one-by-one sweeps and plain unbatched patched runs', async () => {
  await initBackend('wasm');
  const model = randomModel(5);
  const b = randomBatch(6, 3, 7, SMALL.vocab, [2, 4]);
  for (const target of ['head_z', 'head_z_pos', 'attn_out'] as const) {
    const batched = await activationPatching(model, b, { target });
    const single = await activationPatching(model, b, { target, maxCopies: 1 });
    assert.ok(Math.max(...batched.stats.copiesPerPass) > 1, `${target}: several copies per pass`);
    assert.ok(Math.max(...single.stats.copiesPerPass) === 1);
    assertClose(batched.patched.values, single.patched.values, 1e-5, `${target} batched vs one-by-one`);
  }
  // Reference: a full forward per head with model/patch.ts hooks.
  const src = plainCache(model, b, 'corrupt', Array.from({ length: L }, (_, l) => hookName.z(l)));
  const expected: number[] = [];
  for (let l = 0; l < L; l++) {
    for (let h = 0; h < H; h++) expected.push(referenceLd(model, b, 'clean', { [hookName.z(l)]: patchFrom(src[hookName.z(l)], { heads: [h] }) }));
  }
  const den: number[] = [];
  const cleanSrc = plainCache(model, b, 'clean', [hookName.mlpOut(1)]);
  for (let p = 0; p < b.T; p++) den.push(referenceLd(model, b, 'corrupt', { [hookName.mlpOut(1)]: patchFrom(cleanSrc[hookName.mlpOut(1)], { positions: [p] }) }));
  const r = await activationPatching(model, b, { target: 'head_z' });
  assertClose(r.patched.values, expected, 1e-5, 'head_z vs full-forward reference');
  const d = await activationPatching(model, b, { target: 'mlp_out', direction: 'denoising', layers: [1] });
  assertClose(d.patched.values, den, 1e-5, 'denoising mlp_out[1] vs reference');
  assert.ok(Math.abs(d.clean - referenceLd(model, b, 'clean')) < 1e-5 && Math.abs(d.corrupt - referenceLd(model, b, 'corrupt')) < 1e-5);
  for (const t of [...Object.values(src), ...Object.values(cleanSrc)]) t.dispose();
  model.dispose();
});

test('named positions are resolved per prompt (rows with different END and IO)', async () => {
  await initBackend('wasm');
  const model = randomModel(7);
  const b = randomBatch(8, 3, 9, SMALL.vocab, [1, 3, 4], [8, 6, 7]);
  b.positions = [
    { IO: 1, S1: 3, S1p1: 4, S2: 5, END: 8 },
    { IO: 3, S1: 1, S1p1: 2, S2: 4, END: 6 },
    { IO: 1, S1: 4, S1p1: 5, S2: 6, END: 7 },
  ];
  const r = await activationPatching(model, b, { target: 'head_z_pos', positions: ['IO', 'END'], layers: [0, 2] });
  assert.deepEqual(r.patched.shape, [2, H, 2]);
  assert.deepEqual(r.patched.labels?.position, ['IO', 'END']);
  const src = plainCache(model, b, 'corrupt', [hookName.z(0), hookName.z(2)]);
  const rows = (bi: number): TraceBatch => ({ ...b, n: 1, clean: b.clean.slice(bi * b.T, (bi + 1) * b.T), corrupt: b.corrupt.slice(bi * b.T, (bi + 1) * b.T), io: b.io.slice(bi, bi + 1), s: b.s.slice(bi, bi + 1), end: b.end.slice(bi, bi + 1) });
  [0, 2].forEach((l, li) => {
    for (let h = 0; h < H; h++) {
      (['IO', 'END'] as const).forEach((name, pi) => {
        let sum = 0;
        for (let bi = 0; bi < b.n; bi++) {
          const rowSrc = tf.slice(src[hookName.z(l)], [bi, 0, 0, 0], [1, -1, -1, -1]);
          sum += referenceLd(model, rows(bi), 'clean', { [hookName.z(l)]: patchFrom(rowSrc, { heads: [h], positions: [b.positions![bi][name]] }) });
          rowSrc.dispose();
        }
        const got = r.patched.values[(li * H + h) * 2 + pi];
        assert.ok(Math.abs(got - sum / b.n) < 1e-5, `layer ${l} head ${h} ${name}: ${got} vs ${sum / b.n}`);
      });
    }
  });
  Object.values(src).forEach((t) => t.dispose());
  model.dispose();
});

test('a prompt set of several lengths gives the prompt-weighted mean; per-index positions need one length', async () => {
  await initBackend('wasm');
  const model = randomModel(9);
  const b1 = randomBatch(10, 2, 6, SMALL.vocab, [1]);
  const b2 = randomBatch(11, 5, 9, SMALL.vocab, [2, 3]);
  const both = await activationPatching(model, [b1, b2], { target: 'resid_pre', positions: ['END'] });
  const r1 = await activationPatching(model, b1, { target: 'resid_pre', positions: ['END'] });
  const r2 = await activationPatching(model, b2, { target: 'resid_pre', positions: ['END'] });
  assertClose(both.patched.values, r1.patched.values.map((v, i) => (2 * v + 5 * r2.patched.values[i]) / 7), 1e-5, 'weighted');
  assert.ok(Math.abs(both.clean - (2 * r1.clean + 5 * r2.clean) / 7) < 1e-6);
  assert.deepEqual(both.patched.settings.batches, [{ n: 2, T: 6 }, { n: 5, T: 9 }]);
  // a memory budget below one batch splits it by rows: same scores
  const split = await activationPatching(model, [b1, b2], { target: 'resid_pre', positions: ['END'], memoryBudgetMB: 0.15 });
  assert.ok((split.patched.settings.batches as unknown[]).length > 2, 'batches were split');
  assertClose(split.patched.values, both.patched.values, 1e-5, 'split by rows');
  await assert.rejects(activationPatching(model, [b1, b2], { target: 'attn_out' }), /one length/);
  await assert.rejects(activationPatching(model, b1, { target: 'head_z', layers: [3] }), /layers: 3/);
  model.dispose();
});
