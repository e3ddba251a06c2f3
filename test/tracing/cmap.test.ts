import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tf } from '../../model/engine';
import { blockParamNames, GPT2 } from '../../model/gpt2';
import { hookName } from '../../model/hook-names';
import { patchFrom } from '../../model/patch';
import { logitDiffs, tokensTensor } from '../../tracing/batch';
import { cmapHeads, cmapSets, CmapSetSpec } from '../../tracing/cmap';
import { allHeads } from '../../tracing/heads';
import { scoreAt } from '../../tracing/scores';
import { loadTiny, readReference, referenceBatch } from './fixture';

const ref = readReference();

/** A copy of `a` whose attention input projection (c_attn) columns in [from, to) are perturbed. */
async function withPerturbedAttn(a: GPT2, from: number, to: number, seed: number): Promise<GPT2> {
  const params: Record<string, tf.Variable> = {};
  for (const [name, v] of Object.entries(a.params)) params[name] = tf.variable(v.clone(), true, `${name}_copy${seed}`);
  for (let l = 0; l < a.config.n_layer; l++) {
    const name = blockParamNames(l).attnW;
    const w = params[name];
    const cols = new Float32Array(w.shape[1] as number);
    cols.fill(1, from, to);
    const noise = tf.tidy(() => tf.mul(tf.randomNormal(w.shape, 0, 0.3, 'float32', seed + l), tf.tensor1d(cols)));
    w.assign(tf.add(w, noise));
    noise.dispose();
  }
  return new GPT2(a.config, params);
}

test('CMAP of a model with itself is the identity', async () => {
  const a = await loadTiny();
  const set = [referenceBatch(ref)];
  for (const kind of ['z', 'q', 'k', 'v', 'pattern'] as const) {
    const s = await cmapHeads(a, a, set, { kind });
    assert.equal(s.fReceiver, s.fDonor);
    assert.ok(Math.abs(s.fReceiver - ref.clean_ld_mean) < 1e-4);
    for (const v of s.delta.values) assert.ok(Math.abs(v) < 1e-5, `${kind}: self-CMAP delta ${v}`);
    assert.ok(s.normalised.values.every((v) => Number.isNaN(v)), 'normalised is undefined (NaN) when F_B = F_A');
  }
  const [all] = await cmapSets(a, a, set, [{ heads: allHeads(a.config), kinds: ['z', 'q', 'k', 'v', 'pattern'] }]);
  assert.ok(Math.abs(all.delta) < 1e-5);
  a.dispose();
});

test('patching every head\'s z (or q, k and v) from a donor that differs only in W_QKV reproduces the donor', async () => {
  const a = await loadTiny();
  const b = await withPerturbedAttn(a, 0, 192, 11); // q, k and v columns
  const set = [referenceBatch(ref)];
  const heads = allHeads(a.config);
  const specs: CmapSetSpec[] = [
    { name: 'z', heads, kinds: ['z'] },
    { name: 'qkv', heads, kinds: ['q', 'k', 'v'] },
    { name: 'z-layer0', heads: heads.filter((h) => h.layer === 0), kinds: ['z'] },
  ];
  const [z, qkv, z0] = await cmapSets(a, b, set, specs);
  assert.ok(Math.abs(z.fDonor - z.fReceiver) > 1e-2, `the donor must behave differently (${z.fDonor} vs ${z.fReceiver})`);
  assert.ok(Math.abs(z.patched - z.fDonor) < 1e-4, `z: ${z.patched} vs donor ${z.fDonor}`);
  assert.ok(Math.abs(z.normalised - 1) < 1e-3);
  assert.ok(Math.abs(qkv.patched - qkv.fDonor) < 1e-4, `qkv: ${qkv.patched} vs donor ${qkv.fDonor}`);
  assert.ok(Math.abs(z0.patched - z0.fDonor) > 1e-4, 'layer 0 alone does not carry the whole difference');
  a.dispose();
  b.dispose();
});

test('pattern patching: a donor that differs only in W_Q, W_K is reproduced by its patterns; its layer-0 v is A\'s', async () => {
  const a = await loadTiny();
  const b = await withPerturbedAttn(a, 0, 128, 5); // q and k columns only
  const set = [referenceBatch(ref)];
  const heads = allHeads(a.config);
  const [pattern, qk, v0] = await cmapSets(a, b, set, [
    { heads, kinds: ['pattern'] },
    { heads, kinds: ['q', 'k'] },
    { heads: heads.filter((h) => h.layer === 0), kinds: ['v'] },
  ]);
  assert.ok(Math.abs(pattern.fDonor - pattern.fReceiver) > 1e-2);
  assert.ok(Math.abs(pattern.patched - pattern.fDonor) < 1e-4, `pattern: ${pattern.patched} vs ${pattern.fDonor}`);
  assert.ok(Math.abs(qk.patched - qk.fDonor) < 1e-4, `q+k: ${qk.patched} vs ${qk.fDonor}`);
  assert.ok(Math.abs(v0.delta) < 1e-5, `layer-0 v is identical in both models, delta ${v0.delta}`);
  // in the last layer only the END query row reaches the END logits: END-only pattern patching = all rows
  const last = heads.filter((h) => h.layer === 1);
  const [endRow, allRows, oneHead] = await cmapSets(a, b, set, [
    { heads: last, kinds: ['pattern'], positions: 'END' },
    { heads: last, kinds: ['pattern'], positions: 'all' },
    { heads: [last[2]], kinds: ['pattern'], positions: 'END' },
  ]);
  assert.ok(Math.abs(allRows.delta) > 1e-3, 'the last layer\'s patterns matter');
  assert.ok(Math.abs(endRow.patched - allRows.patched) < 1e-5, `END rows ${endRow.patched} vs all rows ${allRows.patched}`);
  assert.ok(Math.abs(oneHead.patched - endRow.patched) > 1e-6, 'one head is not all four');
  a.dispose();
  b.dispose();
});

test('per-head sweep equals a hand-made patch; END-only equals all positions with non-END outputs frozen', async () => {
  const a = await loadTiny();
  const b = await loadTiny('tiny-gpt2-untied'); // same architecture, different weights
  const batch = referenceBatch(ref);
  const set = [batch];
  const sweep = await cmapHeads(a, b, set, { kind: 'z', maxRowsPerPass: 8 });
  // independent: donor z of head 0.3 patched with model/patch.ts into A's run
  const manual = tf.tidy(() => {
    const donorZ = b.run(tokensTensor(batch, 'clean'), { cache: [hookName.z(0)], logitsAt: 'none' }).cache[hookName.z(0)];
    const { logits } = a.run(tokensTensor(batch, 'clean'), { hooks: { [hookName.z(0)]: patchFrom(donorZ, { heads: [3] }) }, logitsAt: batch.end });
    return tf.mean(logitDiffs(logits as tf.Tensor2D, batch));
  });
  const m = (await manual.data())[0];
  manual.dispose();
  assert.ok(Math.abs(scoreAt(sweep.patched, 0, 3) - m) < 1e-5, `sweep ${scoreAt(sweep.patched, 0, 3)} vs manual ${m}`);
  assert.ok(Math.abs(scoreAt(sweep.delta, 0, 3) - (m - sweep.fReceiver)) < 1e-5);
  const norm = (m - sweep.fReceiver) / (sweep.fDonor - sweep.fReceiver);
  assert.ok(Math.abs(scoreAt(sweep.normalised, 0, 3) - norm) < 1e-4);
  const [endOnly, frozen] = await cmapSets(a, b, set, [
    { heads: [{ layer: 0, head: 1 }, { layer: 1, head: 2 }], kinds: ['z'], positions: 'END' },
    { heads: [{ layer: 0, head: 1 }, { layer: 1, head: 2 }], kinds: ['z'], positions: 'all', freezeNonEnd: true },
  ]);
  assert.ok(Math.abs(endOnly.patched - frozen.patched) < 1e-5, `END-only ${endOnly.patched} vs frozen ${frozen.patched}`);
  await assert.rejects(cmapHeads(a, await loadTiny(), set, { kind: 'x' as never }), /cmap kind/);
  a.dispose();
  b.dispose();
});
