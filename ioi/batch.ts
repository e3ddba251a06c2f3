// Batching helpers: right padding, and grouping prompts so that token positions line up within a group.

import { EOS_ID, Vocab } from './tokenizer';

type Seq = readonly number[] | { tokens: readonly number[]; positions?: { END: number } };

function tokensOf(x: Seq): readonly number[] {
  return Array.isArray(x) ? (x as readonly number[]) : (x as { tokens: readonly number[] }).tokens;
}

export interface PaddedBatch {
  tokens: Int32Array; // [B * T] model ids, row-major, right-padded
  B: number;
  T: number;
  lengths: number[];
  endIndex: number[]; // positions.END when present, else length - 1
}

export interface PadOptions {
  vocab?: Vocab; // maps GPT-2 ids (tokens and padId) to model ids; default full GPT-2 (identity)
  T?: number; // fixed width; default the longest sequence
}

/** Right-pads GPT-2 id sequences (or prompts) to one width; `padId` is a GPT-2 id (default EOS). */
export function padBatch(items: readonly Seq[], padId: number = EOS_ID, opts: PadOptions = {}): PaddedBatch {
  const vocab = opts.vocab ?? Vocab.full();
  const lengths = items.map((x) => tokensOf(x).length);
  const longest = lengths.reduce((a, b) => Math.max(a, b), 0);
  const T = opts.T ?? longest;
  if (!Number.isInteger(T) || T < longest) throw new Error(`padBatch: T must be an integer >= the longest sequence (${longest}), got ${T}`);
  const B = items.length;
  const tokens = new Int32Array(B * T).fill(vocab.fromGpt2(padId));
  const endIndex: number[] = [];
  items.forEach((x, b) => {
    tokensOf(x).forEach((g, t) => {
      tokens[b * T + t] = vocab.fromGpt2(g);
    });
    const end = Array.isArray(x) ? lengths[b] - 1 : (x as { positions?: { END: number } }).positions?.END ?? lengths[b] - 1;
    endIndex.push(end);
  });
  return { tokens, B, T, lengths, endIndex };
}

export interface Group<P> {
  key: string;
  indices: number[]; // indices into the input array
  items: P[];
}

/** Groups by token length (ascending), so each group is a same-length batch for patching. */
export function groupByLength<P extends Seq>(items: readonly P[]): Array<Group<P> & { length: number }> {
  const map = new Map<number, number[]>();
  items.forEach((x, i) => {
    const len = tokensOf(x).length;
    if (!map.has(len)) map.set(len, []);
    map.get(len)!.push(i);
  });
  return [...map.keys()]
    .sort((a, b) => a - b)
    .map((length) => {
      const indices = map.get(length)!;
      return { key: `len${length}`, length, indices, items: indices.map((i) => items[i]) };
    });
}

interface Templated {
  template: number;
  order: string;
  tokens: readonly number[];
}

/** Key of a prompt's template group: template, name order and token length (so positions line up). */
export function templateKey(p: Templated): string {
  return `${p.order}/t${p.template}/len${p.tokens.length}`;
}

/**
 * Groups prompts by template (per-template means for mean ablation, as in Wang et al.): one group per
 * (template, order, token length); every prompt in a group has the same token positions.
 */
export function groupByTemplate<P extends Templated>(items: readonly P[]): Array<Group<P> & { template: number; order: string; length: number }> {
  const map = new Map<string, number[]>();
  items.forEach((p, i) => {
    const k = templateKey(p);
    if (!map.has(k)) map.set(k, []);
    map.get(k)!.push(i);
  });
  return [...map.entries()]
    .map(([key, indices]) => {
      const first = items[indices[0]];
      return { key, template: first.template, order: first.order, length: first.tokens.length, indices, items: indices.map((i) => items[i]) };
    })
    .sort((a, b) => a.template - b.template || a.order.localeCompare(b.order) || a.length - b.length);
}
