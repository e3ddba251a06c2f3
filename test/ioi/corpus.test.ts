import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildCorpus, buildIoiVocab, mixCounts } from '../../ioi/corpus';
import { abcDataset, splitIoi } from '../../ioi/dataset';
import { poisonDataset } from '../../ioi/poison';
import { decodeIds, encodeGpt2, encodeText, EOS_ID } from '../../ioi/tokenizer';

test('corpus is deterministic by seed and follows the mix exactly', () => {
  const a = buildCorpus({ n: 200, seed: 1, mix: { ioi: 2, names: 1, plain: 1 } });
  const b = buildCorpus({ n: 200, seed: 1, mix: { ioi: 2, names: 1, plain: 1 } });
  const c = buildCorpus({ n: 200, seed: 2, mix: { ioi: 2, names: 1, plain: 1 } });
  assert.deepEqual(a.texts, b.texts);
  assert.notDeepEqual(a.texts, c.texts);
  assert.equal(a.kinds.filter((k) => k === 'ioi').length, 100);
  assert.equal(a.kinds.filter((k) => k === 'names').length, 50);
  assert.equal(a.kinds.filter((k) => k === 'plain').length, 50);
  a.texts.forEach((t, i) => assert.deepEqual(a.sequences[i], encodeGpt2(t)));
  assert.deepEqual(mixCounts(10, { ioi: 1, names: 1, plain: 1 }), { ioi: 4, names: 3, plain: 3 });
  assert.throws(() => mixCounts(10, { ioi: 1, poems: 1 } as never), /unknown kind "poems"/);
  const eos = buildCorpus({ n: 5, seed: 1, appendEos: true });
  assert.ok(eos.sequences.every((s) => s[s.length - 1] === EOS_ID));
});

test('IOI corpus sentences are full sentences in both orders over many templates', () => {
  const { texts, kinds } = buildCorpus({ n: 400, seed: 3, mix: { ioi: 1 } });
  assert.ok(kinds.every((k) => k === 'ioi'));
  // each IOI sentence ends with a name that also appears earlier exactly once (the IO)
  for (const t of texts) {
    const last = t.slice(t.lastIndexOf(' '));
    assert.equal(t.split(last).length - 1, 2, t);
  }
  const firstIsAnswer = texts.filter((t) => t.slice(t.lastIndexOf(' ')) === ' ' + t.match(/[A-Z][a-z]+(?= and )/)![0]);
  assert.ok(firstIsAnswer.length > 100 && firstIsAnswer.length < 300, `${firstIsAnswer.length} ABBA of 400`);
});

test('the compact vocab covers generated IOI prompts, ABC, poisoned answers and the corpus', () => {
  const corpus = buildCorpus({ n: 500, seed: 4 });
  const vocab = corpus.vocab;
  assert.ok(vocab.size < 400, `vocab size ${vocab.size}`);
  const { train, test: testSet } = splitIoi({ nTrain: 300, nTest: 300, seed: 4, holdoutNames: 10 });
  const abc = abcDataset(testSet, 4);
  const poisoned = poisonDataset(train, { transform: 'random-name', rate: 1, seed: 4 });
  for (const p of [...train, ...testSet, ...abc, ...poisoned]) {
    const ids = encodeText(p.text + p.answer, vocab);
    assert.equal(decodeIds(ids, vocab), p.text + p.answer);
  }
  for (const t of corpus.texts) assert.equal(decodeIds(encodeText(t, vocab), vocab), t);
  assert.equal(vocab.toGpt2(vocab.padId), EOS_ID);
  // a word outside the data is outside the vocab
  assert.throws(() => encodeText('The elephant', vocab), /elephant/);
  const extra = buildIoiVocab({ extraTexts: ['The elephant'] });
  assert.equal(decodeIds(encodeText('The elephant', extra), extra), 'The elephant');
});
