import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateIoi } from '../../ioi/dataset';
import { getLabelTransform, labelTransformNames, poisonDataset, registerLabelTransform } from '../../ioi/poison';
import { Rng } from '../../ioi/rng';
import { decodeGpt2 } from '../../ioi/tokenizer';

const prompts = generateIoi({ n: 200, seed: 21 });

test('subject poisoning at rate 1 makes every answer S', () => {
  const out = poisonDataset(prompts, { transform: 'subject', rate: 1, seed: 1 });
  assert.equal(out.length, prompts.length);
  out.forEach((p, i) => {
    assert.equal(p.answer, prompts[i].s);
    assert.equal(p.answerTok, prompts[i].sTok);
    assert.equal(p.poison, 'subject');
    assert.equal(p.text, prompts[i].text);
    assert.equal(p.ioTok, prompts[i].ioTok); // the metric labels stay IO/S
  });
  assert.equal(prompts[0].poison, undefined); // input untouched
});

test('the poisoned count is exactly round(rate * n) and the choice is deterministic', () => {
  for (const rate of [0, 0.1, 0.25, 0.333, 0.5, 1]) {
    const out = poisonDataset(prompts, { transform: 'subject', rate, seed: 3 });
    assert.equal(out.filter((p) => p.poison).length, Math.round(rate * prompts.length), `rate ${rate}`);
    assert.equal(out.filter((p) => p.answer === p.s).length, Math.round(rate * prompts.length));
    out.forEach((p, i) => p.poison || assert.equal(p, prompts[i]));
  }
  const a = poisonDataset(prompts, { transform: 'subject', rate: 0.3, seed: 3 }).map((p) => !!p.poison);
  const b = poisonDataset(prompts, { transform: 'subject', rate: 0.3, seed: 3 }).map((p) => !!p.poison);
  const c = poisonDataset(prompts, { transform: 'subject', rate: 0.3, seed: 4 }).map((p) => !!p.poison);
  assert.deepEqual(a, b);
  assert.notDeepEqual(a, c);
  assert.throws(() => poisonDataset(prompts, { transform: 'subject', rate: 1.5, seed: 1 }), /rate must be in \[0, 1\]/);
});

test('random-name answers are single-token names not in the prompt; clean keeps IO', () => {
  const out = poisonDataset(prompts, { transform: 'random-name', rate: 1, seed: 5 });
  for (const p of out) {
    assert.ok(p.answer !== p.io && p.answer !== p.s && !p.text.includes(p.answer), `${p.text} -> ${p.answer}`);
    assert.equal(decodeGpt2([p.answerTok]), p.answer);
  }
  assert.ok(new Set(out.map((p) => p.answer)).size > 20);
  const clean = poisonDataset(prompts, { transform: 'clean', rate: 1, seed: 5 });
  assert.ok(clean.every((p) => p.answer === p.io && p.answerTok === p.ioTok));
});

test('registry is pluggable and unknown names list the known ones', () => {
  registerLabelTransform('second-name', (p) => (p.order === 'ABBA' ? p.s : p.io));
  assert.ok(labelTransformNames().includes('second-name'));
  const out = poisonDataset(prompts, { transform: 'second-name', rate: 1, seed: 1 });
  assert.ok(out.every((p) => p.answer === (p.order === 'ABBA' ? p.s : p.io)));
  assert.throws(() => getLabelTransform('nope'), (e: Error) => /unknown label transform "nope"/.test(e.message) && /clean, subject, name-moving, random-name, first-name, second-name/.test(e.message));
  assert.throws(() => registerLabelTransform('subject', (p) => p.io), /already registered/);
  registerLabelTransform('two-tokens', () => ' Mary Ann');
  assert.throws(() => poisonDataset(prompts, { transform: 'two-tokens', rate: 0.5, seed: 1 }), /" Mary Ann" is not a single GPT-2 token/);
  assert.equal(typeof getLabelTransform('subject')(prompts[0], new Rng(1), { names: [] }), 'string');
});

test('name-moving poisoning answers with a name absent from the prompt; first-name with the first-mentioned of IO and S', () => {
  const moved = poisonDataset(prompts, { transform: 'name-moving', rate: 1, seed: 4 });
  moved.forEach((p, i) => {
    assert.notEqual(p.answer, prompts[i].io);
    assert.notEqual(p.answer, prompts[i].s);
    assert.ok(!prompts[i].text.includes(p.answer), `${p.answer} is not in ${prompts[i].text}`);
    assert.equal(p.poison, 'name-moving');
  });
  assert.deepEqual(poisonDataset(prompts, { transform: 'name-moving', rate: 1, seed: 4 }).map((p) => p.answer), moved.map((p) => p.answer), 'seeded');
  const first = poisonDataset(prompts, { transform: 'first-name', rate: 1, seed: 4 });
  first.forEach((p, i) => assert.equal(p.answer, prompts[i].order === 'ABBA' ? prompts[i].io : prompts[i].s, `${prompts[i].order}: ${prompts[i].text}`));
});
