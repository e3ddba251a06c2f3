import { test } from 'node:test';
import assert from 'node:assert/strict';
import { abcDataset, generateIoi, IoiPrompt, makePrompt, splitIoi, toAbc } from '../../ioi/dataset';
import { names } from '../../ioi/names';
import { Rng } from '../../ioi/rng';
import { N_TEMPLATES } from '../../ioi/templates';
import { decodeGpt2, encodeGpt2 } from '../../ioi/tokenizer';

function checkPositions(p: IoiPrompt): void {
  const { IO, S1, S2, S1p1, END } = p.positions;
  assert.equal(p.tokens[IO], p.ioTok, `IO in ${p.text}`);
  assert.equal(p.tokens[S1], p.sTok, `S1 in ${p.text}`);
  assert.equal(p.tokens[S2], p.sTok, `S2 in ${p.text}`);
  assert.ok(S1 < S2);
  assert.equal(S1p1, S1 + 1);
  assert.equal(END, p.tokens.length - 1);
  assert.equal(decodeGpt2([p.tokens[END]]), ' to');
  assert.ok(p.order === 'ABBA' ? IO < S1 : S1 < IO, `${p.order}: ${p.text}`);
  assert.deepEqual(encodeGpt2(p.text + p.answer), [...p.tokens, p.answerTok]);
  assert.equal(decodeGpt2([p.ioTok]), p.io);
  assert.equal(decodeGpt2([p.sTok]), p.s);
}

test('positions are correct for every template in both orders', () => {
  for (let t = 0; t < N_TEMPLATES; t++) {
    for (const order of ['ABBA', 'BABA'] as const) {
      const p = makePrompt(t, order, 'Mary', 'John', 'restaurant', 'necklace');
      checkPositions(p);
      assert.equal(p.answer, ' Mary');
      assert.equal(p.text.split(' John').length - 1, 2);
    }
  }
  assert.throws(() => makePrompt(0, 'BABA', 'Mary', 'Mary', 'store', 'drink'), /must differ/);
});

test('generated prompts: deterministic by seed, balanced, positions correct', () => {
  const a = generateIoi({ n: 300, seed: 11 });
  const b = generateIoi({ n: 300, seed: 11 });
  const c = generateIoi({ n: 300, seed: 12 });
  assert.deepEqual(a, b);
  assert.notDeepEqual(a.map((p) => p.text), c.map((p) => p.text));
  assert.equal(a.filter((p) => p.order === 'ABBA').length, 150);
  assert.equal(a.filter((p) => p.order === 'BABA').length, 150);
  const odd = generateIoi({ n: 7, seed: 1 });
  assert.equal(Math.abs(odd.filter((p) => p.order === 'ABBA').length - odd.filter((p) => p.order === 'BABA').length), 1);
  a.forEach(checkPositions);
  assert.equal(new Set(a.map((p) => p.template)).size, N_TEMPLATES);
  assert.ok(a.every((p) => p.io !== p.s && p.answerTok === p.ioTok));
  const only = generateIoi({ n: 40, seed: 3, templates: [2, 5], names: ['Mary', 'John', 'Alice'] });
  assert.ok(only.every((p) => (p.template === 2 || p.template === 5) && ['Mary', 'John', 'Alice'].includes(p.io.trim())));
  assert.throws(() => generateIoi({ n: 2, seed: 1, templates: [15] }), /template must be an integer in \[0, 15\)/);
  assert.throws(() => generateIoi({ n: 2, seed: 1, names: ['Mary'] }), /at least 2 names/);
});

test('ABC corruption: same length, three fresh distinct names, label and positions unchanged', () => {
  const clean = generateIoi({ n: 120, seed: 5 });
  const abc = abcDataset(clean, 5);
  assert.deepEqual(abc, abcDataset(clean, 5));
  abc.forEach((x, i) => {
    const p = clean[i];
    assert.equal(x.tokens.length, p.tokens.length);
    assert.deepEqual(x.positions, p.positions);
    assert.equal(x.io, p.io);
    assert.equal(x.s, p.s);
    assert.equal(x.answer, p.answer);
    assert.equal(x.template, p.template);
    const { IO, S1, S2 } = p.positions;
    const fresh = [x.tokens[IO], x.tokens[S1], x.tokens[S2]];
    assert.equal(new Set(fresh).size, 3, x.text);
    assert.ok(!fresh.includes(p.ioTok) && !fresh.includes(p.sTok), x.text);
    assert.ok(!x.tokens.includes(p.ioTok) && !x.tokens.includes(p.sTok), x.text);
    x.tokens.forEach((t, j) => {
      if (j !== IO && j !== S1 && j !== S2) assert.equal(t, p.tokens[j], `position ${j} of ${x.text}`);
    });
  });
  assert.throws(() => toAbc(clean[0], new Rng(1), ['Mary', 'John', clean[0].io.trim()]), /at least 3 names/);
});

test('train/test splits share no prompt text, even when collisions are likely', () => {
  // Template 4 has no place/object; with 5 names there are only 40 distinct prompts.
  const pools = { templates: [4], names: ['Mary', 'John', 'Alice', 'Peter', 'Kate'] };
  const { train, test: testSet } = splitIoi({ nTrain: 60, nTest: 15, seed: 2, ...pools });
  assert.equal(train.length, 60);
  assert.equal(testSet.length, 15);
  const testTexts = new Set(testSet.map((p) => p.text));
  assert.ok(train.every((p) => !testTexts.has(p.text)));
  // the same pools without the split guarantee do collide, so the check above is meaningful
  const naive = generateIoi({ n: 60, seed: 99, ...pools });
  assert.ok(naive.some((p) => testTexts.has(p.text)));
  assert.deepEqual(splitIoi({ nTrain: 60, nTest: 15, seed: 2, ...pools }).train, train);
  assert.throws(() => splitIoi({ nTrain: 5, nTest: 40, seed: 2, templates: [4], names: ['Mary', 'John'], maxRejects: 200 }), /collided with the test set/);
});

test('held-out names appear only in the test set', () => {
  const split = splitIoi({ nTrain: 200, nTest: 100, seed: 4, holdoutNames: 12 });
  assert.equal(split.holdoutNames.length, 12);
  const held = new Set(split.holdoutNames);
  assert.ok(split.test.every((p) => held.has(p.io.trim()) && held.has(p.s.trim())));
  assert.ok(split.train.every((p) => !held.has(p.io.trim()) && !held.has(p.s.trim())));
  assert.ok(split.holdoutNames.every((n) => names().includes(n)));
  assert.throws(() => splitIoi({ nTrain: 1, nTest: 1, seed: 1, holdoutNames: ['Nobody'] }), /not in the name pool: Nobody/);
});
