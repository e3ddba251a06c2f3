// IOI prompts → a TraceSet: clean prompts and their corrupted (p_ABC) versions, grouped into same-length batches,
// with answer ids, named positions and template ids mapped into the model's vocabulary.
import { abcDataset, generateIoi, IoiPrompt } from '../ioi/dataset';
import { readPromptsFile } from '../ioi/prompts-file';
import type { ModelVocab } from '../model/vocab';
import { TraceBatch, TraceSet } from './batch';
import { DeterministicError } from '../errors/deterministic';

/** Generated prompts ({n, seed}, ABC corruption with the same seed) or a JSON-lines prompts file. */
export type PromptSpec = { n: number; seed: number } | { file: string };

/**
 * Template id of a prompt in a TraceBatch: template × 3 + (0 'other', 1 ABBA, 2 BABA), so the ABBA and BABA
 * versions of one template get separate knockout means (their positions differ).
 */
export function templateId(p: IoiPrompt): number {
  const order = p.order === 'ABBA' ? 1 : p.order === 'BABA' ? 2 : 0;
  return p.template * 3 + order;
}

function modelId(vocab: ModelVocab, g: number, where: string): number {
  if (!vocab.has(g)) throw new DeterministicError(`${where}: token ${g} is not in the model's ${vocab.describe()}`);
  return vocab.fromGpt2(g);
}

/** Same-length batches (at most maxBatch prompts each) of clean[i] paired with corrupt[i]. */
export function traceSetFromPrompts(clean: readonly IoiPrompt[], corrupt: readonly IoiPrompt[], vocab: ModelVocab, maxBatch = 256): TraceSet {
  if (clean.length !== corrupt.length) throw new DeterministicError(`trace prompts: ${clean.length} clean but ${corrupt.length} corrupted prompts`);
  if (clean.length === 0) throw new DeterministicError('trace prompts: no prompts');
  const byLength = new Map<number, number[]>();
  clean.forEach((p, i) => {
    const where = p.source ?? `prompt ${i} (${JSON.stringify(p.text)})`;
    if (corrupt[i].tokens.length !== p.tokens.length) throw new Error(`${where}: corrupted version has ${corrupt[i].tokens.length} tokens, clean has ${p.tokens.length}`);
    for (const [label, v] of Object.entries(p.positions)) {
      if (!(v >= 0 && v < p.tokens.length)) throw new Error(`${where}: position ${label} = ${v} is not a token index (names must appear as single tokens)`);
    }
    if (!byLength.has(p.tokens.length)) byLength.set(p.tokens.length, []);
    byLength.get(p.tokens.length)!.push(i);
  });
  const set: TraceSet = [];
  for (const T of [...byLength.keys()].sort((a, b) => a - b)) {
    const all = byLength.get(T)!;
    for (let start = 0; start < all.length; start += maxBatch) {
      const rows = all.slice(start, start + maxBatch);
      const n = rows.length;
      const b: TraceBatch = {
        n, T,
        clean: new Int32Array(n * T), corrupt: new Int32Array(n * T),
        io: new Int32Array(n), s: new Int32Array(n), end: new Int32Array(n), template: new Int32Array(n), positions: [],
      };
      rows.forEach((i, r) => {
        const p = clean[i];
        const where = p.source ?? `prompt ${i}`;
        p.tokens.forEach((g, t) => (b.clean[r * T + t] = modelId(vocab, g, where)));
        corrupt[i].tokens.forEach((g, t) => (b.corrupt[r * T + t] = modelId(vocab, g, `${where} (corrupted)`)));
        b.io[r] = modelId(vocab, p.ioTok, `${where} IO`);
        b.s[r] = modelId(vocab, p.sTok, `${where} S`);
        b.end[r] = p.positions.END;
        b.template![r] = templateId(p);
        b.positions!.push({ ...p.positions });
      });
      set.push(b);
    }
  }
  return set;
}

/** Builds the trace set for a prompt spec; `clean`/`corrupt` are returned for metrics and provenance. */
export function ioiTraceSet(spec: PromptSpec, vocab: ModelVocab, maxBatch?: number): { set: TraceSet; clean: IoiPrompt[]; corrupt: IoiPrompt[]; corruption: string } {
  if ('file' in spec) {
    const { clean, corrupt } = readPromptsFile(spec.file);
    return { set: traceSetFromPrompts(clean, corrupt, vocab, maxBatch), clean, corrupt, corruption: `file:${spec.file}` };
  }
  if (!Number.isInteger(spec.n) || spec.n < 1) throw new Error(`prompts.n: expected a positive integer, got ${JSON.stringify(spec.n)}`);
  if (!Number.isSafeInteger(spec.seed)) throw new Error(`prompts.seed: expected an integer, got ${JSON.stringify(spec.seed)}`);
  const clean = generateIoi({ n: spec.n, seed: spec.seed });
  const corrupt = abcDataset(clean, spec.seed);
  return { set: traceSetFromPrompts(clean, corrupt, vocab, maxBatch), clean, corrupt, corruption: 'abc' };
}
