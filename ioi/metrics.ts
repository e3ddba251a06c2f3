// IOI metrics from END-position logits (docs/ioi-paper.md §3.1-3.2). Pure TS on typed arrays.
// All token ids here are model ids (map GPT-2 ids through the model's Vocab first; see labelIds).

import type { IoiPrompt } from './dataset';
import { Vocab } from './tokenizer';

/** END logits: a row-major [B, V] array, or a getter returning row b (length V). */
export type EndLogits = ArrayLike<number> | ((b: number) => ArrayLike<number>);

export interface IoiMetrics {
  logitDiff: number; // mean of logit(IO) - logit(S)
  logitDiffStd: number; // sample standard deviation (n - 1), 0 when n < 2
  pairwiseAcc: number; // fraction with logit(IO) > logit(S)
  top1Acc: number; // fraction with argmax == IO (first index wins ties)
  ioProb: number; // mean softmax probability of IO
  n: number;
}

function rowGetter(logits: EndLogits, B: number, V: number): (b: number) => ArrayLike<number> {
  if (typeof logits === 'function') {
    return (b) => {
      const row = logits(b);
      if (row.length !== V) throw new Error(`logits row ${b}: expected length V=${V}, got ${row.length}`);
      return row;
    };
  }
  if (logits.length !== B * V) throw new Error(`logits: expected B*V = ${B}*${V} = ${B * V} values, got ${logits.length}`);
  const flat = logits;
  if (flat instanceof Float32Array || flat instanceof Float64Array) return (b) => flat.subarray(b * V, (b + 1) * V);
  return (b) => Array.prototype.slice.call(flat, b * V, (b + 1) * V) as number[];
}

function checkIds(ids: ArrayLike<number>, V: number, what: string): void {
  for (let i = 0; i < ids.length; i++) {
    if (!Number.isInteger(ids[i]) || ids[i] < 0 || ids[i] >= V) throw new Error(`${what}[${i}]: expected a token id in [0, ${V}), got ${ids[i]}`);
  }
}

/** Per-prompt logit differences logit(IO) - logit(S). */
export function logitDiffs(logits: EndLogits, V: number, io: ArrayLike<number>, s: ArrayLike<number>): Float64Array {
  if (io.length !== s.length) throw new Error(`io and s must have the same length, got ${io.length} and ${s.length}`);
  checkIds(io, V, 'io');
  checkIds(s, V, 's');
  const row = rowGetter(logits, io.length, V);
  const out = new Float64Array(io.length);
  for (let b = 0; b < io.length; b++) {
    const r = row(b);
    out[b] = r[io[b]] - r[s[b]];
  }
  return out;
}

export function ioiMetrics(logits: EndLogits, V: number, io: ArrayLike<number>, s: ArrayLike<number>): IoiMetrics {
  const n = io.length;
  const lds = logitDiffs(logits, V, io, s);
  const row = rowGetter(logits, n, V);
  let sum = 0;
  let pairwise = 0;
  let top1 = 0;
  let prob = 0;
  for (let b = 0; b < n; b++) {
    const r = row(b);
    sum += lds[b];
    if (lds[b] > 0) pairwise++;
    let max = -Infinity;
    let arg = 0;
    for (let v = 0; v < V; v++) {
      if (r[v] > max) {
        max = r[v];
        arg = v;
      }
    }
    if (arg === io[b]) top1++;
    let z = 0;
    for (let v = 0; v < V; v++) z += Math.exp(r[v] - max);
    prob += Math.exp(r[io[b]] - max) / z;
  }
  const mean = n ? sum / n : NaN;
  let sq = 0;
  for (let b = 0; b < n; b++) sq += (lds[b] - mean) ** 2;
  return {
    logitDiff: mean,
    logitDiffStd: n > 1 ? Math.sqrt(sq / (n - 1)) : 0,
    pairwiseAcc: n ? pairwise / n : NaN,
    top1Acc: n ? top1 / n : NaN,
    ioProb: n ? prob / n : NaN,
    n,
  };
}

/** Picks the END rows out of full logits [B, T, V] (row-major) into [B, V]. */
export function gatherEndLogits(full: ArrayLike<number>, B: number, T: number, V: number, endIndex: readonly number[]): Float32Array {
  if (full.length !== B * T * V) throw new Error(`gatherEndLogits: expected B*T*V = ${B * T * V} values, got ${full.length}`);
  if (endIndex.length !== B) throw new Error(`gatherEndLogits: expected ${B} end indices, got ${endIndex.length}`);
  const out = new Float32Array(B * V);
  for (let b = 0; b < B; b++) {
    const e = endIndex[b];
    if (!Number.isInteger(e) || e < 0 || e >= T) throw new Error(`gatherEndLogits: endIndex[${b}] must be in [0, ${T}), got ${e}`);
    const off = (b * T + e) * V;
    for (let v = 0; v < V; v++) out[b * V + v] = full[off + v];
  }
  return out;
}

/** IO, S and answer token ids of prompts in a model's vocabulary. */
export function labelIds(prompts: readonly IoiPrompt[], vocab: Vocab = Vocab.full()): { io: Int32Array; s: Int32Array; answer: Int32Array } {
  return {
    io: Int32Array.from(prompts, (p) => vocab.fromGpt2(p.ioTok)),
    s: Int32Array.from(prompts, (p) => vocab.fromGpt2(p.sTok)),
    answer: Int32Array.from(prompts, (p) => vocab.fromGpt2(p.answerTok)),
  };
}
