import { test } from 'node:test';
import assert from 'node:assert/strict';
import { groupByLength, groupByTemplate, padBatch } from '../../ioi/batch';
import { abcDataset, generateIoi } from '../../ioi/dataset';
import { buildIoiVocab } from '../../ioi/corpus';
import { EOS_ID } from '../../ioi/tokenizer';

test('padBatch right-pads with the pad id and maps through a compact vocab', () => {
  const prompts = generateIoi({ n: 20, seed: 8 });
  const full = padBatch(prompts);
  const longest = Math.max(...prompts.map((p) => p.tokens.length));
  assert.equal(full.T, longest);
  assert.equal(full.B, 20);
  assert.equal(full.tokens.length, 20 * longest);
  prompts.forEach((p, b) => {
    assert.equal(full.lengths[b], p.tokens.length);
    assert.equal(full.endIndex[b], p.positions.END);
    for (let t = 0; t < full.T; t++) assert.equal(full.tokens[b * full.T + t], t < p.tokens.length ? p.tokens[t] : EOS_ID);
  });
  const vocab = buildIoiVocab();
  const compact = padBatch(prompts, EOS_ID, { vocab, T: 32 });
  assert.equal(compact.T, 32);
  prompts.forEach((p, b) => {
    for (let t = 0; t < 32; t++) assert.equal(vocab.toGpt2(compact.tokens[b * 32 + t]), t < p.tokens.length ? p.tokens[t] : EOS_ID);
  });
  assert.throws(() => padBatch(prompts, EOS_ID, { T: longest - 1 }), /T must be an integer >= the longest/);
  const raw = padBatch([[1, 2, 3], [4]], 0);
  assert.deepEqual([...raw.tokens], [1, 2, 3, 4, 0, 0]);
  assert.deepEqual(raw.endIndex, [2, 0]);
});

test('groupByLength and groupByTemplate partition the prompts with aligned positions', () => {
  const prompts = generateIoi({ n: 400, seed: 9 });
  const byLen = groupByLength(prompts);
  assert.deepEqual(byLen.flatMap((g) => g.indices).sort((a, b) => a - b), prompts.map((_, i) => i));
  for (const g of byLen) assert.ok(g.items.every((p) => p.tokens.length === g.length));
  assert.ok(byLen.every((g, i) => i === 0 || byLen[i - 1].length < g.length));

  const abc = abcDataset(prompts, 9);
  const groups = groupByTemplate(abc);
  assert.deepEqual(groups.flatMap((g) => g.indices).sort((a, b) => a - b), prompts.map((_, i) => i));
  assert.equal(groups.length, 30); // 15 templates x 2 orders; places and objects are single tokens
  for (const g of groups) {
    const first = g.items[0];
    for (const p of g.items) {
      assert.equal(p.template, g.template);
      assert.equal(p.order, g.order);
      assert.equal(p.tokens.length, g.length);
      assert.deepEqual(p.positions, first.positions);
    }
  }
});
