import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readPromptsFile } from '../../ioi/prompts-file';
import { decodeGpt2 } from '../../ioi/tokenizer';

const dir = mkdtempSync(join(tmpdir(), 'ioi-prompts-'));
function writeLines(name: string, lines: unknown[]): string {
  const path = join(dir, name);
  writeFileSync(path, lines.map((l) => (typeof l === 'string' ? l : JSON.stringify(l))).join('\n') + '\n');
  return path;
}

const good = {
  clean: 'When Mary and John went to the store, John gave a drink to',
  corrupt: 'When Alice and Peter went to the store, David gave a drink to',
  io: ' Mary',
  s: ' John',
};

test('reads pairs with positions from the clean prompt and groups by length', () => {
  const path = writeLines('good.jsonl', [good, '', { clean: 'Then, John and Mary had fun. John said to', corrupt: 'Then, Kate and Adam had fun. Paul said to', io: ' Mary', s: ' John' }]);
  const { clean, corrupt } = readPromptsFile(path);
  assert.equal(clean.length, 2);
  const p = clean[0];
  assert.equal(decodeGpt2([p.tokens[p.positions.END]]), ' to');
  assert.equal(p.positions.END, p.tokens.length - 1);
  assert.equal(p.tokens[p.positions.IO], p.ioTok);
  assert.equal(p.tokens[p.positions.S1], p.sTok);
  assert.equal(p.tokens[p.positions.S2], p.sTok);
  assert.equal(p.order, 'ABBA');
  assert.equal(clean[1].order, 'BABA');
  assert.equal(p.source, `${path}:1`);
  assert.equal(clean[1].source, `${path}:3`);
  assert.deepEqual(corrupt[0].positions, p.positions);
  assert.equal(corrupt[0].tokens.length, p.tokens.length);
  assert.equal(corrupt[0].ioTok, p.ioTok);
  assert.equal(corrupt[0].text, good.corrupt);
  // template = index of the token length among the file's distinct lengths
  assert.notEqual(clean[0].tokens.length, clean[1].tokens.length);
  assert.equal(clean[0].template, clean[0].tokens.length < clean[1].tokens.length ? 0 : 1);
  assert.equal(corrupt[1].template, clean[1].template);
});

test('errors name the file and line', () => {
  const lengthPath = writeLines('length.jsonl', [good, { ...good, corrupt: 'When Alice and Peter went to the big store, David gave a drink to' }]);
  assert.throws(() => readPromptsFile(lengthPath), (e: Error) => e.message.startsWith(`${lengthPath}:2:`) && /same length/.test(e.message));
  const multiPath = writeLines('multi.jsonl', [{ ...good, io: ' Mary Ann' }]);
  assert.throws(() => readPromptsFile(multiPath), (e: Error) => e.message.startsWith(`${multiPath}:1:`) && /"io" " Mary Ann" must be a single GPT-2 token/.test(e.message));
  const sPath = writeLines('s.jsonl', [good, good, { ...good, s: 'Johnathan Smith' }]);
  assert.throws(() => readPromptsFile(sPath), (e: Error) => e.message.startsWith(`${sPath}:3:`) && /field "s"/.test(e.message));
  const jsonPath = writeLines('json.jsonl', [good, '{not json']);
  assert.throws(() => readPromptsFile(jsonPath), (e: Error) => e.message.startsWith(`${jsonPath}:2: invalid JSON`));
  const fieldPath = writeLines('field.jsonl', [{ clean: 'a', corrupt: 'b', io: ' Mary' }]);
  assert.throws(() => readPromptsFile(fieldPath), new RegExp(`${fieldPath}:1: field "s" must be a non-empty string`));
  const extraPath = writeLines('extra.jsonl', [{ ...good, label: 'x' }]);
  assert.throws(() => readPromptsFile(extraPath), /extra.jsonl:1: unknown field\(s\) label/);
  const emptyPath = writeLines('empty.jsonl', ['']);
  assert.throws(() => readPromptsFile(emptyPath), /no prompts/);
  assert.throws(() => readPromptsFile(join(dir, 'missing.jsonl')), /missing.jsonl: cannot read/);
});
