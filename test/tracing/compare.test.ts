import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GPT2_SMALL } from '../../model/config';
import { behaviouralRestoration, compareStages, diffMaps, mechanisticRestoration, topKShare, topKShares } from '../../tracing/compare';
import { StageMetrics, StageRole, StageTrace } from '../../tracing/results';
import { ScoresJson } from '../../tracing/scores';
import { pearson } from '../../tracing/rank';

const L = 12;
const H = 12;
const idx = (label: string) => {
  const [l, h] = label.split('.').map(Number);
  return l * H + h;
};

function map(set: Record<string, number>, method = 'activation_patching/head_z'): ScoresJson {
  const values = new Array(L * H).fill(0);
  for (const [k, v] of Object.entries(set)) values[idx(k)] = v;
  return { method, axes: ['layer', 'head'], shape: [L, H], values, metric: { name: 'logit_diff', form: 'delta' }, settings: {} };
}

function stage(name: string, role: StageRole, ld: number, scores: ScoresJson, fingerprint = 'p1'): StageTrace {
  const metrics: StageMetrics = { logitDiff: ld, logitDiffStd: 0, pairwiseAcc: 1, top1Acc: 1, ioProb: 0.5, corruptLogitDiff: 0, n: 10 };
  return {
    schema: 'plasticity.stage-trace', version: 1, stage: name, role,
    model: { config: GPT2_SMALL, gpt2SmallShaped: true },
    prompts: { n: 10, corruption: 'abc', lengths: [15], fingerprint },
    settings: {}, metrics, headScores: { [scores.method]: scores }, timingsMs: {}, createdAt: 'now',
  };
}

// clean: name movers 9.9, 9.6 negative (needed), negative NM 10.7 positive
const clean = map({ '9.9': -3, '9.6': -2, '10.7': 1 });
// corruption: 9.9 flips sign (Δ 5), 9.6 switches off (Δ 2), 10.7 flips (Δ −2); Σ|Δ| = 9
const corrupted = map({ '9.9': 2, '9.6': 0, '10.7': -1 });
// retraining: 9.9 comes back, 9.6 stays off, 10.7 stays flipped but backup 10.10 takes over its positive role
const retrained = map({ '9.9': -2.8, '9.6': 0, '10.7': -1, '10.10': 2 });

test('localisation: top-k shares of Σ|Δ| and the ranked list with GPT-2-small head classes', () => {
  const d = diffMaps({ name: 'clean', scores: clean }, { name: 'toxic', scores: corrupted }, 'activation_patching/head_z', undefined, GPT2_SMALL);
  assert.equal(d.totalAbsDelta, 9);
  assert.ok(Math.abs(d.topShare['1'] - 5 / 9) < 1e-12);
  assert.ok(Math.abs(d.topShare['3'] - 1) < 1e-12);
  assert.equal(d.topShare['10'], 1);
  assert.deepEqual(d.changed.slice(0, 3).map((c) => [c.head, c.cls, c.delta]), [['9.9', 'name_mover', 5], ['9.6', 'name_mover', 2], ['10.7', 'negative_name_mover', -2]]);
  assert.equal(d.changed[3].delta, 0);
  assert.equal(topKShare([0, 0, 0], 1), 0);
  assert.equal(topKShare([1, NaN, -3], 1), 0.75);
});

test('restoration: per-head labels with the documented thresholds', () => {
  const behaviour = behaviouralRestoration(3, -5, 2);
  assert.equal(behaviour, 7 / 8);
  const m = mechanisticRestoration('activation_patching/head_z', { clean, corrupted, retrained }, behaviour, undefined, GPT2_SMALL);
  assert.ok(Math.abs(m.threshold - 0.3) < 1e-12, 'τ = 0.1 × max |clean| = 0.3');
  const label = (h: string) => m.heads[idx(h)].label;
  assert.equal(label('9.9'), 'restored');
  assert.ok(Math.abs(m.heads[idx('9.9')].recovered - 0.96) < 1e-12);
  assert.equal(label('9.6'), 'still_corrupted');
  assert.equal(label('10.7'), 'compensated');
  assert.deepEqual(m.heads[idx('10.7')].compensatedBy, ['10.10']);
  assert.equal(label('10.10'), 'recruited');
  assert.equal(label('0.0'), 'unchanged');
  assert.deepEqual(m.counts, { restored: 1, still_corrupted: 1, compensated: 1, unchanged: 140, recruited: 1 });
  const cv = clean.values as number[];
  assert.ok(Math.abs(m.pearson - pearson(retrained.values as number[], cv)) < 1e-12);
  assert.ok(Math.abs(m.corruptedPearson - pearson(corrupted.values as number[], cv)) < 1e-12);
  // without behavioural restoration nothing counts as compensated
  const weak = mechanisticRestoration('activation_patching/head_z', { clean, corrupted, retrained }, 0.5);
  assert.equal(weak.heads[idx('10.7')].label, 'still_corrupted');
  assert.equal(weak.heads[idx('10.7')].cls, undefined, 'no classes without a model config');
});

test('compareStages: adjacent diffs, localisation, restoration and the "behaviour restored, mechanism not" flag', () => {
  const stages = [stage('base', 'clean', 3, clean), stage('toxic', 'corrupted', -5, corrupted), stage('retrain', 'retrained', 2, retrained)];
  const out = compareStages({ stages, createdAt: 't' });
  assert.equal(out.schema, 'plasticity.lineage-comparison');
  assert.equal(out.version, 1);
  assert.deepEqual(out.methods, ['activation_patching/head_z']);
  assert.equal(out.adjacent.length, 2);
  assert.equal(out.localisation!.from, 'base');
  assert.ok(Math.abs(out.localisation!.byMethod['activation_patching/head_z'].topShare['1'] - 5 / 9) < 1e-12);
  assert.equal(out.restoration!.behavioural.fraction, 7 / 8);
  assert.ok(out.restoration!.mechanistic['activation_patching/head_z'].pearson > 0.5);
  assert.equal(out.restoration!.behaviourRestoredMechanismNot, false);
  // behaviour back but the map anti-correlated with the clean one: flagged
  const inverted = map({ '9.9': 3, '9.6': 2, '10.7': -1 });
  const flagged = compareStages({ stages: [stages[0], stages[1], stage('retrain', 'retrained', 2.9, inverted)] });
  assert.ok(flagged.restoration!.mechanistic['activation_patching/head_z'].pearson < 0.5);
  assert.equal(flagged.restoration!.behaviourRestoredMechanismNot, true);
  // the same map but behaviour not back: not flagged
  const notBack = compareStages({ stages: [stages[0], stages[1], stage('retrain', 'retrained', -4, inverted)] });
  assert.equal(notBack.restoration!.behaviourRestoredMechanismNot, false);
  // JSON round trip keeps everything (NaN-free here)
  assert.deepEqual(JSON.parse(JSON.stringify(out)).restoration.behavioural, out.restoration!.behavioural);
  // different prompts cannot be compared
  assert.throws(() => compareStages({ stages: [stages[0], stage('x', 'corrupted', 0, corrupted, 'p2')] }), /different prompts/);
  assert.throws(() => compareStages({ stages, primaryMethod: 'dla/head' }), /primaryMethod: 'dla\/head'/);
});

// Two corruption branches with per-prompt values: every headline number of a branch gets a bootstrap interval.
const PROMPTS = 40;
/** Zero-mean noise per prompt (deterministic), so the per-prompt rows average to the map exactly (up to rounding). */
function centred(seed: number, scale: number): number[] {
  const xs = Array.from({ length: PROMPTS }, (_, p) => Math.sin(1.3 * p + 0.7 * seed) * scale);
  const m = xs.reduce((a, x) => a + x, 0) / PROMPTS;
  return xs.map((x) => x - m);
}
function perPromptStage(name: string, role: StageRole, ld: number, scores: ScoresJson, o: { noise?: number; faithfulness?: number } = {}): StageTrace {
  const s = stage(name, role, ld, scores);
  const noise = o.noise ?? 0.2;
  const logitDiffs = centred(name.length, 0.5).map((x) => ld + x);
  s.metrics = { ...s.metrics, n: PROMPTS, logitDiffs };
  const cells = (scores.values as number[]).map((_, h) => centred(h + name.length, noise));
  s.perPrompt = { headScores: { [scores.method]: logitDiffs.map((_, p) => (scores.values as number[]).map((v, h) => v + cells[h][p])) } };
  if (o.faithfulness !== undefined) {
    const fNoise = centred(name.length + 1, noise);
    const fCircuit = logitDiffs.map((x, p) => o.faithfulness! * x + fNoise[p]);
    const fc = fCircuit.reduce((a, x) => a + x, 0) / PROMPTS;
    const fm = logitDiffs.reduce((a, x) => a + x, 0) / PROMPTS;
    s.circuit = { evaluation: { circuit: { name: 'found', heads: [] }, ablation: 'mean', faithfulness: { fModel: fm, fCircuit: fc, ratio: fc / fm, wang: 0, gap: 0 } } };
    s.perPrompt.circuit = { fModel: logitDiffs, fCircuit };
  }
  return s;
}

test('compareStages with two branches: intervals for LD, localisation share, restoration and faithfulness, reproducible', () => {
  const mild = map({ '9.9': -2, '9.6': -2, '10.7': 1 });
  const stages = [
    perPromptStage('clean', 'clean', 3, clean),
    perPromptStage('corrupt-a', 'corrupted', -5, corrupted, { faithfulness: 0.4 }),
    perPromptStage('retrain-a', 'retrained', 2, retrained, { faithfulness: 0.9 }),
    perPromptStage('corrupt-b', 'corrupted', 1, mild, { faithfulness: 0.7, noise: 0.8 }),
    perPromptStage('retrain-b', 'retrained', 2.5, clean, { faithfulness: 0.95, noise: 0.8 }),
  ];
  const branches = [
    { name: 'a', clean: 'clean', corrupted: 'corrupt-a', retrained: 'retrain-a' },
    { name: 'b', clean: 'clean', corrupted: 'corrupt-b', retrained: 'retrain-b' },
  ];
  const out = compareStages({ stages, branches, createdAt: 't' });
  const delta = (corrupted.values as number[]).map((v, i) => v - (clean.values as number[])[i] + 0.01 * Math.sin(i));
  assert.deepEqual(topKShares([...delta, NaN], [1, 3, 5, 200]), [1, 3, 5, 200].map((k) => topKShare([...delta, NaN], k)), 'one sort, the same shares');
  const widths: Record<string, number> = {};
  for (const b of out.branches!) {
    const iv = b.intervals!;
    assert.ok(iv, `${b.name}: intervals`);
    assert.deepEqual(Object.keys(iv.topShare!), ['1', '3', '5', '10'], `${b.name}: a share interval per k`);
    for (const [k, s] of Object.entries(iv.topShare!)) {
      assert.equal(s.value, b.localisation.topShare[k], 'the value is the headline share');
      assert.ok(s.lo >= 0 && s.lo <= s.hi && s.hi <= 1, `${b.name} top-${k}: ${JSON.stringify(s)}`);
    }
    assert.ok(iv.topShare!['1'].lo < iv.topShare!['1'].hi, 'noisy prompts: a real interval');
    assert.equal(iv.mechanistic!.value, b.restoration.mechanistic[b.method].pearson);
    assert.ok(iv.mechanistic!.lo < iv.mechanistic!.hi && iv.mechanistic!.hi <= 1);
    assert.equal(iv.faithfulness!.retrained!.value, b.faithfulness.retrained);
    assert.equal(iv.faithfulness!.corrupted!.value, b.faithfulness.corrupted);
    for (const f of [iv.faithfulness!.corrupted!, iv.faithfulness!.retrained!]) assert.ok(f.lo <= f.value && f.value <= f.hi, JSON.stringify(f));
    assert.equal(iv.behavioural.value, b.restoration.behavioural.fraction);
    widths[b.name] = iv.faithfulness!.retrained!.hi - iv.faithfulness!.retrained!.lo;
  }
  assert.ok(widths.b > 2 * widths.a, `4× the per-prompt noise widens the faithfulness interval (${widths.a} vs ${widths.b})`);
  // the two branches' faithfulness intervals after retraining are told apart (0.9 vs 0.95 with little noise on a)
  assert.ok(Math.abs(out.branches![0].intervals!.faithfulness!.retrained!.value - 0.9) < 1e-9);
  // recomputing (a resumed compare) gives the same intervals
  assert.deepEqual(compareStages({ stages, branches, createdAt: 't' }).branches!.map((b) => b.intervals), out.branches!.map((b) => b.intervals));
  // traces without per-prompt head scores or circuit values: only the LD intervals, unchanged
  const bare = stages.map((s) => ({ ...s, perPrompt: undefined }));
  const old = compareStages({ stages: bare, branches, createdAt: 't' }).branches![0].intervals!;
  assert.equal(old.topShare, undefined);
  assert.equal(old.mechanistic, undefined);
  assert.equal(old.faithfulness, undefined);
  for (const k of ['ldClean', 'ldCorrupted', 'ldRetrained', 'behavioural'] as const) assert.deepEqual(old[k], out.branches![0].intervals![k]);
});
