// User prompts as JSON lines: {"clean": "...", "corrupt": "...", "io": " Name", "s": " Name"}.
// END is the clean prompt's last token; clean and corrupt must have equal token length so positions line up.

import { readFileSync } from 'node:fs';
import { findPositions, IoiPrompt, PromptOrder } from './dataset';
import { encodeGpt2 } from './tokenizer';

export interface UserPrompts {
  clean: IoiPrompt[];
  corrupt: IoiPrompt[]; // corrupt[i] pairs with clean[i]; same labels and positions
}

const FIELDS = ['clean', 'corrupt', 'io', 's'] as const;

function parseLine(raw: string, where: string): Record<(typeof FIELDS)[number], string> {
  let obj: unknown;
  try {
    obj = JSON.parse(raw);
  } catch (e) {
    throw new Error(`${where}: invalid JSON (${(e as Error).message})`);
  }
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) throw new Error(`${where}: expected a JSON object with fields ${FIELDS.join(', ')}`);
  const rec = obj as Record<string, unknown>;
  const unknown = Object.keys(rec).filter((k) => !(FIELDS as readonly string[]).includes(k));
  if (unknown.length) throw new Error(`${where}: unknown field(s) ${unknown.join(', ')}; expected ${FIELDS.join(', ')}`);
  for (const f of FIELDS) {
    if (typeof rec[f] !== 'string' || rec[f] === '') throw new Error(`${where}: field "${f}" must be a non-empty string`);
  }
  return rec as Record<(typeof FIELDS)[number], string>;
}

function singleTokenField(value: string, field: string, where: string): number {
  const ids = encodeGpt2(value);
  if (ids.length !== 1) {
    throw new Error(`${where}: field "${field}" ${JSON.stringify(value)} must be a single GPT-2 token (usually with a leading space, e.g. " Mary"), got ${ids.length} tokens`);
  }
  return ids[0];
}

/** Parses JSON-lines text; `file` is only used in error messages. Blank lines are skipped. */
export function parsePromptsJsonl(content: string, file: string): UserPrompts {
  const clean: IoiPrompt[] = [];
  const corrupt: IoiPrompt[] = [];
  content.split(/\r?\n/).forEach((raw, i) => {
    if (raw.trim() === '') return;
    const where = `${file}:${i + 1}`;
    const rec = parseLine(raw, where);
    const ioTok = singleTokenField(rec.io, 'io', where);
    const sTok = singleTokenField(rec.s, 's', where);
    if (ioTok === sTok) throw new Error(`${where}: fields "io" and "s" must be different tokens, both are ${JSON.stringify(rec.io)}`);
    const cleanTokens = encodeGpt2(rec.clean);
    const corruptTokens = encodeGpt2(rec.corrupt);
    if (cleanTokens.length !== corruptTokens.length) {
      throw new Error(`${where}: "clean" has ${cleanTokens.length} tokens but "corrupt" has ${corruptTokens.length}; they must tokenize to the same length`);
    }
    if (!cleanTokens.includes(ioTok)) {
      throw new Error(`${where}: field "io" ${JSON.stringify(rec.io)} does not occur in "clean" (the indirect object must be named in the prompt)`);
    }
    const positions = findPositions(cleanTokens, ioTok, sTok);
    const order: PromptOrder = positions.IO < 0 || positions.S1 < 0 ? 'other' : positions.IO < positions.S1 ? 'ABBA' : 'BABA';
    const base = { answer: rec.io, io: rec.io, s: rec.s, template: -1, order, ioTok, sTok, answerTok: ioTok, place: '', object: '', source: where };
    clean.push({ ...base, text: rec.clean, tokens: cleanTokens, positions });
    corrupt.push({ ...base, text: rec.corrupt, tokens: corruptTokens, positions: { ...positions } });
  });
  if (clean.length === 0) throw new Error(`${file}: no prompts (expected JSON lines with fields ${FIELDS.join(', ')})`);
  // template = index of the prompt's token length among the file's distinct lengths (same-length groups)
  const lengths = [...new Set(clean.map((p) => p.tokens.length))].sort((a, b) => a - b);
  for (const list of [clean, corrupt]) for (const p of list) p.template = lengths.indexOf(p.tokens.length);
  return { clean, corrupt };
}

export function readPromptsFile(path: string): UserPrompts {
  let content: string;
  try {
    content = readFileSync(path, 'utf8');
  } catch (e) {
    throw new Error(`prompts file ${path}: cannot read (${(e as Error).message})`);
  }
  return parsePromptsJsonl(content, path);
}
