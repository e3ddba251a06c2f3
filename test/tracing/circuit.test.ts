import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GPT2_SMALL } from '../../model/config';
import {
  Circuit, circuitPerformance, completeness, discoverCircuit, faithfulness, faithfulnessFrom, GPT2_SMALL_HEAD_CLASSES, headClass,
  minimality, minimalityK, wangCircuit,
} from '../../tracing/circuit';
import { allHeads, headLabel } from '../../tracing/heads';
import { knockout, Knockout, knockoutSweep } from '../../tracing/knockout';
import { loadTiny, readReference, referenceBatch } from './fixture';

const ref = readReference();
const templates = [0, 0, 1, 1, 0, 1, 0, 1];

test("Wang's GPT-2-small classes: 26 heads, classes only for GPT-2-small-shaped models", () => {
  const all = Object.values(GPT2_SMALL_HEAD_CLASSES).flat();
  assert.equal(all.length, 26);
  assert.equal(new Set(all).size, 26);
  assert.equal(headClass(GPT2_SMALL, 9, 9), 'name_mover');
  assert.equal(headClass(GPT2_SMALL, 10, 7), 'negative_name_mover');
  assert.equal(headClass(GPT2_SMALL, 5, 8), 'induction');
  assert.equal(headClass(GPT2_SMALL, 4, 11), 'previous_token');
  assert.equal(headClass(GPT2_SMALL, 1, 1), undefined);
  const compactVocab: typeof GPT2_SMALL = { ...GPT2_SMALL, vocab: 1000 };
  assert.equal(headClass(compactVocab, 9, 9), 'name_mover', 'vocabulary does not matter');
  assert.equal(headClass({ ...GPT2_SMALL, n_layer: 2 }, 0, 1), undefined);
  const w = wangCircuit();
  assert.equal(w.heads.length, 26);
  assert.deepEqual(w.heads.find((h) => headLabel(h) === '2.2')!.positions, ['S1p1']);
  assert.deepEqual(w.heads.find((h) => headLabel(h) === '0.10')!.positions, ['S2']);
  const K = (h: string) => minimalityK(w, w.heads.find((x) => headLabel(x) === h)!, 'wang').map(headLabel).sort();
  assert.deepEqual(K('9.9'), []);
  assert.deepEqual(K('10.0'), ['9.9']);
  assert.deepEqual(K('9.6'), ['10.0', '9.9']);
  assert.deepEqual(K('5.8'), ['10.7', '11.10']);
  assert.deepEqual(K('7.3'), ['7.9', '8.10', '8.6']);
  assert.deepEqual(K('10.6'), ['10.0', '10.10', '9.6', '9.9']);
  // Wang's faithfulness numbers: F(M) 3.56, gap 0.46 → 87%
  const f = faithfulnessFrom(3.56, 3.1);
  assert.ok(Math.abs(f.wang - 0.8708) < 1e-4);
  assert.ok(Math.abs(f.ratio - 3.1 / 3.56) < 1e-12);
});

test('F(C) of the whole model is F(M); completeness of the whole model is exact', async () => {
  const model = await loadTiny();
  const ko = await Knockout.create(model, [referenceBatch(ref, templates)]);
  const whole: Circuit = { name: 'all', heads: allHeads(model.config).map((h) => ({ ...h, positions: 'all' })) };
  const f = await faithfulness(ko, whole);
  assert.equal(f.fCircuit, f.fModel);
  assert.equal(f.ratio, 1);
  assert.equal(f.wang, 1);
  const c = await completeness(ko, whole, { samples: 6, seed: 3 });
  assert.equal(c.samples.length, 6);
  assert.equal(c.max, 0, 'C \\ K and M \\ K are the same model when C = M');
  assert.ok(c.samples.some((s) => s.K.length > 0 && Math.abs(s.fModelMinusK - f.fModel) > 1e-4), 'the sampled K must matter');
  // a circuit kept only at END differs from keeping those heads everywhere
  const endOnly: Circuit = { name: 'end', heads: whole.heads.map((h) => ({ ...h, positions: ['END'] })) };
  const fEnd = await circuitPerformance(ko, endOnly);
  const direct = await knockout(model, [referenceBatch(ref, templates)], { keep: endOnly.heads });
  assert.equal(fEnd, direct);
  assert.ok(Math.abs(fEnd - f.fModel) > 1e-4);
  ko.dispose();
  model.dispose();
});

test('minimality values equal |F(C \\ (K ∪ {v})) − F(C \\ K)| computed directly; threshold is 1% of |F(M)|', async () => {
  const model = await loadTiny('tiny-gpt2-untied');
  const set = [referenceBatch(ref, templates)];
  const ko = await Knockout.create(model, set);
  const circuit: Circuit = {
    name: 'c',
    heads: [
      { layer: 0, head: 0, positions: 'all', cls: 'a' },
      { layer: 0, head: 2, positions: ['S2', 'END'], cls: 'a' },
      { layer: 1, head: 1, positions: ['END'], cls: 'b' },
    ],
  };
  const m = await minimality(ko, circuit, { k: 'classmates' });
  assert.ok(Math.abs(m.threshold - 0.01 * Math.abs(ko.fullModel())) < 1e-12);
  const node = m.nodes[1]; // 0.2 with K = {0.0}
  assert.deepEqual(node.K, ['0.0']);
  const keepOnly = (heads: typeof circuit.heads) => knockout(model, set, { keep: heads });
  const withoutK = await keepOnly([circuit.heads[1], circuit.heads[2]]);
  const withoutKv = await keepOnly([circuit.heads[2]]);
  assert.ok(Math.abs(node.fWithoutK - withoutK) < 1e-6);
  assert.ok(Math.abs(node.m - Math.abs(withoutKv - withoutK)) < 1e-6);
  assert.equal(node.pass, node.m >= m.threshold);
  assert.deepEqual(m.nodes[2].K, []);
  const empty = await minimality(ko, circuit, { k: 'empty', thresholdFraction: 0.5 });
  assert.deepEqual(empty.nodes.map((n) => n.K), [[], [], []]);
  assert.equal(empty.passed, empty.nodes.filter((n) => n.m >= 0.5 * Math.abs(ko.fullModel())).length);
  ko.dispose();
  model.dispose();
});

test('discovery adds heads by |score| until F(C) reaches the target fraction of F(M)', async () => {
  const model = await loadTiny();
  const set = [referenceBatch(ref, templates)];
  const ko = await Knockout.create(model, set);
  const scores = await knockoutSweep(model, set, {}, ko);
  const d = await discoverCircuit(ko, scores, { targetFraction: 0.9, chunk: 3 });
  const ranked = [...scores.values.keys()].sort((a, b) => Math.abs(scores.values[b]) - Math.abs(scores.values[a]));
  assert.deepEqual(d.circuit.heads.map((h) => h.layer * 4 + h.head), ranked.slice(0, d.circuit.heads.length));
  assert.equal(d.fCircuit, await circuitPerformance(ko, d.circuit));
  if (d.reached) {
    assert.ok(d.ratio >= 0.9);
    for (const t of d.trajectory.filter((x) => x.size < d.circuit.heads.length)) assert.ok(t.ratio < 0.9, `prefix ${t.size} already reached the target`);
  } else {
    assert.equal(d.trajectory.length, 8);
  }
  // with every head the circuit is the model: the target 1.0 is always reached, by the full set at the latest
  const full = await discoverCircuit(ko, scores, { targetFraction: 1 - 1e-6 });
  assert.ok(full.reached);
  await assert.rejects(discoverCircuit(ko, { ...scores, axes: ['head', 'layer'] }), /axes \[layer, head\]/);
  ko.dispose();
  model.dispose();
});
