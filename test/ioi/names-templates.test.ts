import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkNamePool, isSingleTokenName, names, OBJECTS, PLACES, RAW_NAMES } from '../../ioi/names';
import { ABBA_TEMPLATES, BABA_TEMPLATES, nameRoles, renderTemplate, toAbba } from '../../ioi/templates';
import { encodeGpt2 } from '../../ioi/tokenizer';

test('every kept name is one GPT-2 token with a leading space, and the filter drops multi-token names', () => {
  assert.ok(names().length >= 100, `only ${names().length} names kept`);
  for (const n of names()) assert.equal(encodeGpt2(' ' + n).length, 1, n);
  assert.ok(names().every((n) => RAW_NAMES.includes(n)));
  assert.equal(isSingleTokenName('Bartholomew'), encodeGpt2(' Bartholomew').length === 1);
  assert.equal(isSingleTokenName('Mary Ann'), false);
  assert.throws(() => checkNamePool(['Mary', 'Mary Ann'], 2), /Mary Ann.*single GPT-2 token/);
  assert.throws(() => checkNamePool(['Mary', 'Mary'], 2), /duplicate/);
  assert.equal(PLACES.length, 8);
  assert.equal(OBJECTS.length, 8);
});

test('15 BABA templates, ABBA versions swap the first two names', () => {
  assert.equal(BABA_TEMPLATES.length, 15);
  assert.equal(ABBA_TEMPLATES.length, 15);
  assert.equal(ABBA_TEMPLATES[0], 'Then, [A] and [B] went to the [PLACE]. [B] gave a [OBJECT] to [A]');
  for (let i = 0; i < 15; i++) {
    assert.deepEqual(nameRoles(BABA_TEMPLATES[i]), ['B', 'A', 'B'], BABA_TEMPLATES[i]);
    assert.deepEqual(nameRoles(ABBA_TEMPLATES[i]), ['A', 'B', 'B'], ABBA_TEMPLATES[i]);
    assert.ok(ABBA_TEMPLATES[i].endsWith(' [A]'));
  }
  assert.throws(() => toAbba('[A] and [B]'), /\[B\] before \[A\]/);
});

test('renderTemplate fills name slots in text order and fills every object slot', () => {
  const r = renderTemplate(BABA_TEMPLATES[7], { slots: ['John', 'Mary', 'John'], answer: 'Mary', place: 'store', object: 'drink' });
  assert.equal(r.text, 'When John and Mary got a drink at the store, John decided to give the drink to');
  assert.equal(r.answer, ' Mary');
  assert.throws(() => renderTemplate(BABA_TEMPLATES[0], { slots: ['a'], answer: 'b', place: 'p', object: 'o' }), /3 name slots/);
});
