// Spearman rank correlation and the Scores result type.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { averageRanks, rankCorrelation, spearman } from '../../tracing/rank';
import { makeScores, scoreAt, scoresFromJson, scoresToJson, topScores } from '../../tracing/scores';

test('spearman: monotone maps give ±1, ties use average ranks, NaN pairs are skipped', () => {
  assert.equal(spearman([1, 2, 3, 4], [10, 20, 35, 1000]), 1);
  assert.equal(spearman([1, 2, 3, 4], [4, 3, 2, 1]), -1);
  assert.deepEqual(Array.from(averageRanks([3, 1, 3, 2])), [3.5, 1, 3.5, 2]);
  // ranks x = [1, 2.5, 2.5, 4], y = [1, 3, 2, 4]: ρ = 4.5 / √(4.5 · 5)
  assert.ok(Math.abs(spearman([1, 2, 2, 3], [1, 3, 2, 4]) - 4.5 / Math.sqrt(22.5)) < 1e-12);
  assert.equal(spearman([1, NaN, 2, 3], [1, 5, 2, 3]), 1);
  assert.ok(Number.isNaN(spearman([1, 1, 1], [1, 2, 3])), 'a constant side has no rank correlation');
  assert.throws(() => spearman([1, 2], [1]), /lengths differ/);
});

test('rankCorrelation compares score maps of one shape', () => {
  const base = { method: 'm', axes: ['layer', 'head'], shape: [2, 2], metric: { name: 'logit_diff', form: 'value' }, settings: {} };
  const a = makeScores({ ...base, values: Float32Array.from([1, 2, 3, 4]) });
  const b = makeScores({ ...base, values: Float32Array.from([2, 1, 3, 4]) });
  assert.ok(Math.abs(rankCorrelation(a, b) - 0.8) < 1e-12);
  assert.throws(() => rankCorrelation(a, makeScores({ ...base, axes: ['x'], shape: [4], values: a.values })), /shape/);
});

test('Scores: indexing, JSON round trip with NaN, top scores, shape checks', () => {
  const s = makeScores({
    method: 'activation_patching/head_z_pos', axes: ['layer', 'head', 'position'], shape: [2, 3, 2],
    labels: { position: ['IO', 'END'] }, metric: { name: 'logit_diff', form: 'normalised', normalised: '(patched − corrupt)/(clean − corrupt)' }, settings: { direction: 'noising' },
  });
  assert.ok(Number.isNaN(scoreAt(s, 1, 2, 1)), 'uncomputed cells are NaN');
  s.values.set([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, -20, 11]);
  assert.equal(scoreAt(s, 1, 2, 0), -20);
  s.values[0] = NaN;
  const json = JSON.parse(JSON.stringify(scoresToJson(s)));
  assert.equal(json.values[0], null);
  const back = scoresFromJson(json);
  assert.ok(Number.isNaN(back.values[0]));
  assert.deepEqual(Array.from(back.values.slice(1)), Array.from(s.values.slice(1)));
  assert.deepEqual(back.labels, s.labels);
  assert.deepEqual(topScores(s, 2), [{ coord: [1, 2, 0], value: -20 }, { coord: [1, 2, 1], value: 11 }]);
  assert.throws(() => scoreAt(s, 2, 0, 0), /outside/);
  assert.throws(() => makeScores({ ...s, values: new Float32Array(3) }), /length 3, expected 12/);
  assert.throws(() => makeScores({ ...s, labels: { position: ['IO'] } }), /1 labels for axis 'position'/);
});
