import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GPT2_SMALL } from '../../model/config';
import { behaviouralRestoration, compareStages, diffMaps, mechanisticRestoration, topKShare } from '../../tracing/compare';
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
