import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildIoiVocab } from '../../ioi/corpus';
import { generateIoi } from '../../ioi/dataset';
import { poisonDataset } from '../../ioi/poison';
import { BatchStream, buildTrainingData, collate, Cursor, epochOrder, examplesFromPrompts, exampleFromGpt2 } from '../../train/data';
import { PrefixVocab } from '../../model/vocab';

const vocab = buildIoiVocab();

test('IOI examples: prompt tokens then the answer; answer loss scores only the answer', () => {
  const prompts = generateIoi({ n: 4, seed: 1 });
  const [ex] = examplesFromPrompts(prompts, vocab, 'answer');
  const p = prompts[0];
  assert.deepEqual(Array.from(ex.tokens), [...p.tokens, p.ioTok].map((g) => vocab.fromGpt2(g)));
  assert.equal(ex.lossMask.length, p.tokens.length);
  assert.deepEqual(Array.from(ex.lossMask).map((x, i) => (x ? i : -1)).filter((i) => i >= 0), [p.tokens.length - 1]);
  const [sentence] = examplesFromPrompts(prompts, vocab, 'sentence');
  assert.ok(sentence.lossMask.every((x) => x === 1));
});

test('poisoned prompts train on the poisoned answer', () => {
  const prompts = poisonDataset(generateIoi({ n: 6, seed: 2 }), { transform: 'subject', rate: 1, seed: 3 });
  const exs = examplesFromPrompts(prompts, vocab, 'answer');
  exs.forEach((e, i) => assert.equal(e.tokens[e.tokens.length - 1], vocab.fromGpt2(prompts[i].sTok)));
});

test('a token outside the vocabulary is an error naming the example', () => {
  assert.throws(() => exampleFromGpt2([5, 2000], new PrefixVocab(1000), 'answer', 'row 7'), /row 7: token 2000 is not in the model's GPT-2 id prefix vocabulary/);
});

test('collate: right padding, answer rows as positions, sentence rows masked at padding', () => {
  const a = { tokens: Int32Array.from([1, 2, 3, 4]), lossMask: Uint8Array.from([0, 0, 1]) };
  const b = { tokens: Int32Array.from([5, 6]), lossMask: Uint8Array.from([1]) };
  const ans = collate([a, b], 0);
  assert.deepEqual([ans.B, ans.T], [2, 3]);
  assert.deepEqual(Array.from(ans.inputs), [1, 2, 3, 5, 0, 0]);
  assert.deepEqual(Array.from(ans.at!), [2, 0]);
  assert.deepEqual(Array.from(ans.targets), [4, 6]);
  assert.equal(ans.realTokens, 4);
  const s = { tokens: Int32Array.from([7, 8, 9]), lossMask: Uint8Array.from([1, 1]) };
  const sen = collate([s, b], 0);
  assert.equal(sen.at, null);
  assert.deepEqual([sen.B, sen.T], [2, 2]);
  assert.deepEqual(Array.from(sen.targets), [8, 9, 6, 0]);
  assert.deepEqual(Array.from(sen.weights), [1, 1, 1, 0]);
});

test('batches: seeded per-epoch order, every example once per epoch, cursor resumes exactly', () => {
  const examples = Array.from({ length: 10 }, (_, i) => ({ tokens: Int32Array.from([i, i]), lossMask: Uint8Array.from([1]) }));
  const stream = new BatchStream(examples, 4, 42);
  assert.deepEqual(epochOrder(10, 42, 0), epochOrder(10, 42, 0));
  assert.notDeepEqual(epochOrder(10, 42, 0), epochOrder(10, 42, 1));
  let cursor: Cursor = { epoch: 0, index: 0 };
  const seen: number[] = [];
  const cursors: Cursor[] = [];
  for (let k = 0; k < 5; k++) {
    cursors.push(cursor);
    const next = stream.next(cursor);
    seen.push(...next.items.map((e) => e.tokens[0]));
    cursor = next.cursor;
  }
  assert.deepEqual(seen.slice(0, 10), epochOrder(10, 42, 0));
  assert.deepEqual(seen.slice(10, 20), epochOrder(10, 42, 1));
  assert.deepEqual(cursor, { epoch: 2, index: 0 });
  // a fresh stream started at the third batch's cursor yields the same batches
  const resumed = new BatchStream(examples, 4, 42);
  let c = cursors[2];
  const again: number[] = [];
  for (let k = 2; k < 5; k++) {
    const next = resumed.next(c);
    again.push(...next.items.map((e) => e.tokens[0]));
    c = next.cursor;
  }
  assert.deepEqual(again, seen.slice(8));
  assert.throws(() => stream.next({ epoch: 0, index: 10 }), /data cursor/);
});

test('training data: IOI eval prompts are held out from training; corpus eval prompts are not in the corpus', () => {
  const ioi = buildTrainingData({ kind: 'ioi', n: 50, seed: 1, eval_n: 20, holdout_names: 0 }, vocab, 'answer');
  assert.equal(ioi.examples.length, 50);
  assert.equal(ioi.evalPrompts.length, 20);
  const corpus = buildTrainingData({ kind: 'corpus', n: 300, seed: 1, eval_n: 30 }, vocab, 'sentence');
  assert.equal(corpus.examples.length, 300);
  assert.equal(corpus.evalPrompts.length, 30);
  const again = buildTrainingData({ kind: 'corpus', n: 300, seed: 1, eval_n: 30 }, vocab, 'sentence');
  assert.deepEqual(again.examples.map((e) => Array.from(e.tokens)), corpus.examples.map((e) => Array.from(e.tokens)));
});
