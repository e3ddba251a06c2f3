import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tf } from '../../model/engine';
import { hookName } from '../../model/hook-names';
import { HookFn } from '../../model/gpt2';
import { logitDiffs, tokensTensor, TraceBatch } from '../../tracing/batch';
import { cacheRun, meanOver } from '../../tracing/batched';
import { computeAblationMeans, knockout, Knockout, knockoutSweep } from '../../tracing/knockout';
import { scoreAt } from '../../tracing/scores';
import { loadTiny, maxAbsDiff, readReference, referenceBatch } from './fixture';

const ref = readReference();
const singletons = [0, 1, 2, 3, 4, 5, 6, 7]; // every prompt its own template: its "mean" is its own corrupt z

/** Mean (in double precision) of the per-prompt LDs of a plain run with the given hooks. */
async function meanLdWithHooks(model: Awaited<ReturnType<typeof loadTiny>>, batch: TraceBatch, hooks: Record<string, HookFn>): Promise<number> {
  const t = tf.tidy(() => logitDiffs(model.run(tokensTensor(batch, 'clean'), { hooks, logitsAt: batch.end }).logits as tf.Tensor2D, batch));
  const v = (await t.data()) as Float32Array;
  t.dispose();
  return v.reduce((a, b) => a + b, 0) / v.length;
}

test('knockout of no heads equals the plain model (and the reference clean LD)', async () => {
  const model = await loadTiny();
  const batch = referenceBatch(ref, [0, 0, 0, 0, 1, 1, 1, 1]);
  const plain = await meanLdWithHooks(model, batch, {});
  // The engine reads the LD as normed·(W_U[io] − W_U[s]): bit-equal to its own unpatched run, float-close to full logits.
  const unpatched = cacheRun(model, batch, 'clean', []);
  const enginePlain = meanOver([unpatched.ld]);
  assert.ok(Math.abs(enginePlain - plain) < 1e-6, `engine LD ${enginePlain} vs full-logit LD ${plain}`);
  for (const ablation of ['mean', 'zero', 'resample'] as const) {
    const ko = await Knockout.create(model, [batch], { ablation });
    const all = [0, 1].flatMap((layer) => [0, 1, 2, 3].map((head) => ({ layer, head })));
    const [none, keepAll] = await ko.meanLD([{ ablate: [] }, { keep: all }]);
    assert.equal(none, enginePlain, `${ablation}: ablating nothing`);
    assert.equal(keepAll, enginePlain, `${ablation}: keeping every head`);
    assert.equal(ko.fullModel(), enginePlain);
    ko.dispose();
  }
  assert.ok(Math.abs(plain - ref.clean_ld_mean) < 1e-4, `plain ${plain} vs reference ${ref.clean_ld_mean}`);
  model.dispose();
});

test('zero-ablating every head equals a run with every z zeroed', async () => {
  const model = await loadTiny();
  const batch = referenceBatch(ref);
  const hooks: Record<string, HookFn> = {};
  for (let l = 0; l < 2; l++) hooks[hookName.z(l)] = (z) => tf.zerosLike(z);
  const zeroed = await meanLdWithHooks(model, batch, hooks);
  const ko = await knockout(model, [batch], { keep: [] }, { ablation: 'zero' });
  assert.ok(Math.abs(ko - zeroed) < 1e-5, `knockout ${ko} vs zeroed run ${zeroed}`);
  assert.ok(Math.abs(zeroed - ref.clean_ld_mean) > 1e-3, 'zeroing every head must change the logit difference');
  model.dispose();
});

test('mean ablation uses per-template means over the corrupt prompts', async () => {
  const model = await loadTiny();
  const templates = [0, 1, 0, 1, 1, 0, 0, 1];
  const batch = referenceBatch(ref, templates);
  // expected: head 1.2 replaced by the mean of its corrupt z over the prompts of the row's own template
  const cz = tf.tidy(() => model.run(tokensTensor(batch, 'corrupt'), { cache: [hookName.z(1)], logitsAt: 'none' }).cache[hookName.z(1)]);
  const rowsOf = (t: number) => templates.flatMap((x, i) => (x === t ? [i] : []));
  const groupMean = [0, 1].map((t) => tf.mean(tf.gather(cz, tf.tensor1d(rowsOf(t), 'int32')), 0));
  const perRow = tf.stack(templates.map((t) => groupMean[t])); // [B, T, H, D]
  const headMask = tf.tensor4d([0, 0, 1, 0], [1, 1, 4, 1]);
  const expected = await meanLdWithHooks(model, batch, {
    [hookName.z(1)]: (z) => tf.add(tf.mul(z, tf.sub(1, headMask)), tf.mul(perRow, headMask)),
  });
  const got = await knockout(model, [batch], { ablate: [{ layer: 1, head: 2 }] }, { ablation: 'mean' });
  assert.ok(Math.abs(got - expected) < 1e-5, `per-template mean ablation ${got} vs hand-computed ${expected}`);
  // a single template (one mean over all prompts) gives a different answer, so the grouping matters
  const pooled = await knockout(model, [referenceBatch(ref, new Array(8).fill(0))], { ablate: [{ layer: 1, head: 2 }] });
  assert.ok(Math.abs(pooled - got) > 1e-4, `pooled mean ${pooled} should differ from per-template ${got}`);
  // means from another set are looked up by template group; a missing group is an error naming it
  const means = await computeAblationMeans(model, [batch]);
  assert.equal(means.groups.size, 2);
  const again = await knockout(model, [batch], { ablate: [{ layer: 1, head: 2 }] }, { means });
  assert.equal(again, got);
  await assert.rejects(knockout(model, [referenceBatch(ref, new Array(8).fill(7))], { ablate: [{ layer: 1, head: 2 }] }, { means }), /no mean for group 't7/);
  means.dispose();
  tf.dispose([cz, ...groupMean, perRow, headMask]);
  model.dispose();
});

test('with one prompt per template, mean and resample ablation equal patching from the corrupt run (Python reference)', async () => {
  const model = await loadTiny();
  const batch = referenceBatch(ref, singletons);
  for (const ablation of ['mean', 'resample'] as const) {
    const sweep = await knockoutSweep(model, [batch], { ablation, maxRowsPerPass: 24 });
    const fm = sweep.metric.baselines!.model;
    for (let l = 0; l < 2; l++) {
      for (let h = 0; h < 4; h++) {
        const v = scoreAt(sweep, l, h) + fm;
        assert.ok(Math.abs(v - ref.head_all_pos[l][h]) < 1e-4, `${ablation} ${l}.${h}: ${v} vs reference ${ref.head_all_pos[l][h]}`);
      }
    }
  }
  // position-restricted ablation: head at END only / at S2 only
  for (const [label, p] of [['END', 11], ['S2', 8]] as const) {
    const v = await knockout(model, [batch], { ablate: [{ layer: 0, head: 1, positions: [label] }] });
    assert.ok(Math.abs(v - ref.head_per_pos[0][1][p]) < 1e-4, `0.1 at ${label}: ${v} vs ${ref.head_per_pos[0][1][p]}`);
  }
  model.dispose();
});

test('the batched sweep equals one knockout call per head, whatever the pass size', async () => {
  const model = await loadTiny('tiny-gpt2-untied');
  const batch = referenceBatch(ref, [0, 0, 1, 1, 2, 2, 3, 3]);
  const wide = await knockoutSweep(model, [batch], { maxRowsPerPass: 1000 });
  const narrow = await knockoutSweep(model, [batch], { maxRowsPerPass: 1 });
  assert.ok(maxAbsDiff(wide.values, narrow.values) < 1e-5);
  const single = await knockout(model, [batch], { ablate: [{ layer: 1, head: 3 }] });
  assert.ok(Math.abs(scoreAt(wide, 1, 3) + wide.metric.baselines!.model - single) < 1e-5);
  assert.deepEqual(wide.shape, [2, 4]);
  assert.equal(wide.metric.form, 'delta');
  assert.ok(wide.values.some((v) => Math.abs(v) > 1e-3), 'some head knockout must matter');
  // two batches: the mean is weighted by prompt count
  const first = { ...batch, n: 3, clean: batch.clean.slice(0, 36), corrupt: batch.corrupt.slice(0, 36), io: batch.io.slice(0, 3), s: batch.s.slice(0, 3), end: batch.end.slice(0, 3), template: batch.template!.slice(0, 3), positions: batch.positions!.slice(0, 3) };
  const rest = { ...batch, n: 5, clean: batch.clean.slice(36), corrupt: batch.corrupt.slice(36), io: batch.io.slice(3), s: batch.s.slice(3), end: batch.end.slice(3), template: batch.template!.slice(3), positions: batch.positions!.slice(3) };
  const split = await knockout(model, [first, rest], { ablate: [{ layer: 1, head: 3 }] });
  assert.ok(Math.abs(split - single) < 1e-5, `split batches ${split} vs one batch ${single}`);
  await assert.rejects(knockout(model, [batch], { ablate: [{ layer: 2, head: 0 }] }), /layer 2 is outside \[0, 2\)/);
  model.dispose();
});
