import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeIds, encodeGpt2, encodeText, EOS_ID, fromGpt2Id, singleToken, toGpt2Id, Vocab } from '../../ioi/tokenizer';

test('GPT-2 BPE gives the known ids', () => {
  // Well-known GPT-2 ids: " Mary" 5335, " John" 1757, " to" 284, " the" 262.
  assert.deepEqual(encodeGpt2(' Mary John to the'), [5335, 1757, 284, 262]);
  assert.equal(singleToken(' Mary'), 5335);
  assert.equal(singleToken(' Mary Ann'), null);
  assert.equal(decodeIds([EOS_ID]), '<|endoftext|>');
});

test('full vocabulary is the identity', () => {
  const v = Vocab.full();
  assert.equal(v.size, 50257);
  assert.ok(v.isFull);
  assert.equal(fromGpt2Id(5335, v), 5335);
  assert.equal(toGpt2Id(50256, v), 50256);
  assert.equal(v.padId, EOS_ID);
  assert.equal(v.toJSON(), 'gpt2');
  assert.equal(Vocab.fromJSON('gpt2').size, 50257);
  assert.deepEqual(encodeText('Then, Mary', v), encodeGpt2('Then, Mary'));
});

test('compact vocabulary maps to a dense range and round-trips through JSON', () => {
  const text = 'Then, Mary and John went to the store.';
  const v = Vocab.compact(encodeGpt2(text));
  const gpt2 = [...new Set([...encodeGpt2(text), EOS_ID])].sort((a, b) => a - b);
  assert.equal(v.size, gpt2.length);
  assert.deepEqual(v.toJSON(), gpt2);
  const ids = encodeText(text, v);
  assert.ok(ids.every((i) => i >= 0 && i < v.size));
  assert.equal(decodeIds(ids, v), text);
  assert.equal(v.padId, v.size - 1); // EOS is the largest GPT-2 id, so it sorts last
  const back = Vocab.fromJSON(JSON.parse(JSON.stringify(v.toJSON())));
  assert.deepEqual(encodeText(text, back), ids);
  for (let m = 0; m < v.size; m++) assert.equal(back.fromGpt2(back.toGpt2(m)), m);
});

test('out-of-vocabulary tokens are reported with text and token', () => {
  const v = Vocab.compact(encodeGpt2('Then, Mary'));
  assert.throws(() => encodeText('Then, Peter', v), (e: Error) => /Peter/.test(e.message) && /"Then, Peter"/.test(e.message) && /compact vocabulary/.test(e.message));
  assert.throws(() => v.fromGpt2(1757), /1757.*John/);
  assert.throws(() => v.toGpt2(v.size), /outside/);
  assert.throws(() => Vocab.fromJSON([3, 2, 50256]), /strictly increasing/);
  assert.throws(() => Vocab.fromJSON([1, 2]), /EOS/);
  assert.throws(() => Vocab.compact([50257]), /GPT-2 id/);
});
