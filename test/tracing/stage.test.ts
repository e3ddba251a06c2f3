import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compareStages } from '../../tracing/compare';
import { traceStage, traceSetFingerprint } from '../../tracing/stage';
import { loadTiny, readReference, referenceBatch } from './fixture';

const ref = readReference();
const singletons = [0, 1, 2, 3, 4, 5, 6, 7];

test('traceStage: metrics and every head map agree with the Python reference', async () => {
  const model = await loadTiny();
  const set = [referenceBatch(ref, singletons)];
  const steps: string[] = [];
  const items: Record<string, [number, number][]> = {};
  const trace = await traceStage(model, set, {
    stage: 'tiny', role: 'clean', circuit: { completenessSamples: 2, discover: { targetFraction: 0.5 } }, itemProgressMs: 0,
    onProgress: (p) => (p.item ? (items[p.step] ??= []).push([p.item.done, p.item.total]) : steps.push(`${p.step} ${p.done}/${p.total}`)),
  });
  // Inside a step: items (heads, specs) counted up to their total.
  for (const step of ['activation', 'path', 'knockout', 'circuit']) {
    const seen = items[step] ?? [];
    assert.ok(seen.length >= 1, `${step}: no in-step progress`);
    seen.forEach(([d, t], i) => assert.ok(d >= 1 && d <= t && (i === 0 || d >= seen[i - 1][0] || t !== seen[i - 1][1]), `${step}: item ${d}/${t}`));
  }
  assert.deepEqual(items.knockout!.at(-1), [8, 8]);
  assert.deepEqual(items.activation!.at(-1), [8, 8]);
  assert.equal(trace.schema, 'plasticity.stage-trace');
  assert.equal(trace.version, 1);
  assert.deepEqual(steps, ['metrics 1/7', 'activation 2/7', 'attribution 3/7', 'path 4/7', 'knockout 5/7', 'dla 6/7', 'circuit 7/7']);
  assert.ok(Math.abs(trace.metrics.logitDiff - ref.clean_ld_mean) < 1e-4);
  assert.ok(Math.abs(trace.metrics.corruptLogitDiff - ref.corrupt_ld_mean) < 1e-4);
  assert.equal(trace.metrics.n, 8);
  assert.deepEqual(Object.keys(trace.headScores).sort(), ['activation_patching/head_z', 'attribution_patching/head_z', 'dla/head', 'knockout/head', 'path_patching/logits']);
  const act = trace.headScores['activation_patching/head_z'];
  const ko = trace.headScores['knockout/head'];
  const dla = trace.headScores['dla/head'];
  for (let i = 0; i < 8; i++) {
    const [l, h] = [Math.floor(i / 4), i % 4];
    const expected = ref.head_all_pos[l][h] - ref.clean_ld_mean;
    assert.ok(Math.abs(act.values[i]! - expected) < 1e-4, `activation ${l}.${h}: ${act.values[i]} vs ${expected}`);
    // one prompt per template: mean ablation is the corrupt run's z, i.e. the same patch
    assert.ok(Math.abs(ko.values[i]! - expected) < 1e-4, `knockout ${l}.${h}: ${ko.values[i]} vs ${expected}`);
    assert.ok(Math.abs(dla.values[i]! - ref.dla[l][h]) < 1e-4);
    // the last layer's heads have no later heads to freeze: path patching to the logits is activation patching
    if (l === 1) assert.ok(Math.abs(trace.headScores['path_patching/logits'].values[i]! - act.values[i]!) < 1e-4);
  }
  assert.ok(trace.attributionVsExact! >= -1 && trace.attributionVsExact! <= 1, `attribution vs exact ρ = ${trace.attributionVsExact}`);
  assert.equal(act.metric.form, 'delta');
  assert.ok(trace.circuit!.discovery!.circuit.heads.length >= 1);
  assert.ok(trace.circuit!.evaluation!.faithfulness.fModel === trace.circuit!.discovery!.fModel);
  assert.equal(trace.circuit!.reference, undefined, "Wang's circuit only for GPT-2-small-shaped models");
  assert.equal(trace.prompts.fingerprint, traceSetFingerprint(set));
  // per-prompt values for the compare stage's bootstrap: they average to the headline numbers
  const rows = trace.perPrompt!.headScores!['activation_patching/head_z'];
  assert.equal(rows.length, 8);
  for (let i = 0; i < 8; i++) {
    assert.equal(rows[i].length, 8);
    const m = rows.reduce((a, r) => a + r[i], 0) / rows.length;
    assert.ok(Math.abs(m - act.values[i]!) < 1e-5, `per-prompt mean ${m} vs map ${act.values[i]}`);
  }
  const pc = trace.perPrompt!.circuit!;
  const avg = (xs: number[]) => xs.reduce((a, x) => a + x, 0) / xs.length;
  assert.ok(Math.abs(avg(pc.fCircuit) / avg(pc.fModel) - trace.circuit!.evaluation!.faithfulness.ratio) < 1e-9, 'F(C)/F(M) from the per-prompt values');
  pc.fModel.forEach((f, p) => assert.ok(Math.abs(f - trace.metrics.logitDiffs![p]) < 1e-4, `F(M) of prompt ${p} is its logit difference`));
  // the artifact is plain JSON
  const json = JSON.parse(JSON.stringify(trace));
  assert.deepEqual(json.headScores['dla/head'].shape, [2, 4]);
  model.dispose();
});

test('compareStages over traced stages: a model compared with itself is fully restored', async () => {
  const a = await loadTiny();
  const b = await loadTiny('tiny-gpt2-untied');
  const set = [referenceBatch(ref, singletons)];
  const settings = { methods: ['knockout', 'dla'] as ('knockout' | 'dla')[], circuit: false as const };
  const clean = await traceStage(a, set, { ...settings, stage: 'clean', role: 'clean' });
  const corrupted = await traceStage(b, set, { ...settings, stage: 'other', role: 'corrupted' });
  const retrained = await traceStage(a, set, { ...settings, stage: 'again', role: 'retrained' });
  const cmp = compareStages({ stages: [clean, corrupted, retrained] });
  assert.equal(cmp.primaryMethod, 'knockout/head');
  assert.equal(cmp.adjacent.length, 4);
  const r = cmp.restoration!;
  assert.equal(r.behavioural.fraction, 1);
  for (const m of ['knockout/head', 'dla/head']) {
    assert.ok(Math.abs(r.mechanistic[m].pearson - 1) < 1e-9);
    assert.equal(r.mechanistic[m].counts.still_corrupted + r.mechanistic[m].counts.compensated + r.mechanistic[m].counts.recruited, 0);
  }
  assert.equal(r.behaviourRestoredMechanismNot, false);
  const loc = cmp.localisation!.byMethod['dla/head'];
  assert.ok(loc.topShare['1'] > 0 && loc.topShare['1'] <= loc.topShare['3'] && loc.topShare['10'] === 1);
  a.dispose();
  b.dispose();
});
