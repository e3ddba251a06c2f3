// Training examples (token ids + loss mask) from IOI prompts or corpus sentences, a seeded per-epoch shuffle,
// and a cursor {epoch, index} so a resumed run continues at exactly the next example.
import { buildCorpus } from '../ioi/corpus';
import { generateIoi, IoiPrompt, splitIoi } from '../ioi/dataset';
import { poisonDataset } from '../ioi/poison';
import { deriveSeed, Rng } from '../ioi/rng';
import type { DataSpec } from './config';
import type { ModelVocab } from '../model/vocab';
import { DeterministicError } from '../errors/deterministic';

export type LossKind = 'answer' | 'sentence';

/** One training sequence in model ids. lossMask[t] = 1 when the prediction of tokens[t + 1] from position t counts. */
export interface Example {
  tokens: Int32Array;
  lossMask: Uint8Array; // length tokens.length - 1
}

export interface Cursor {
  epoch: number;
  index: number; // position in the epoch's shuffled order of the next example
}

function toModelIds(gpt2: readonly number[], vocab: ModelVocab, what: string): Int32Array {
  return Int32Array.from(gpt2, (g) => {
    if (!vocab.has(g)) throw new DeterministicError(`${what}: token ${g} is not in the model's ${vocab.describe()}`);
    return vocab.fromGpt2(g);
  });
}

/** A GPT-2 id sequence as an example: 'answer' scores only the last token, 'sentence' every next token. */
export function exampleFromGpt2(ids: readonly number[], vocab: ModelVocab, loss: LossKind, what = 'example'): Example {
  if (ids.length < 2) throw new Error(`${what}: needs at least 2 tokens, got ${ids.length}`);
  const tokens = toModelIds(ids, vocab, what);
  const lossMask = new Uint8Array(ids.length - 1);
  if (loss === 'answer') lossMask[lossMask.length - 1] = 1;
  else lossMask.fill(1);
  return { tokens, lossMask };
}

/** Prompt tokens followed by the (possibly poisoned) answer token. */
export function examplesFromPrompts(prompts: readonly IoiPrompt[], vocab: ModelVocab, loss: LossKind): Example[] {
  return prompts.map((p, i) => exampleFromGpt2([...p.tokens, p.answerTok], vocab, loss, `IOI prompt ${i} (${JSON.stringify(p.text + p.answer)})`));
}

export function examplesFromSequences(seqs: readonly (readonly number[])[], vocab: ModelVocab, loss: LossKind): Example[] {
  return seqs.map((s, i) => exampleFromGpt2(s, vocab, loss, `sequence ${i}`));
}

/** The order of examples in `epoch`: a permutation seeded by (seed, epoch) alone, so any epoch can be recomputed. */
export function epochOrder(n: number, seed: number, epoch: number): number[] {
  return new Rng(deriveSeed(seed, `epoch:${epoch}`)).permutation(n);
}

/** Deterministic batches: batch_size examples from the cursor on, running into the next epoch when one ends. */
export class BatchStream {
  private cachedEpoch = -1;
  private order: number[] = [];

  constructor(readonly examples: readonly Example[], readonly batchSize: number, readonly seed: number) {
    if (examples.length === 0) throw new DeterministicError('training data: no examples');
    if (!Number.isInteger(batchSize) || batchSize <= 0) throw new Error(`batch_size: expected a positive integer, got ${batchSize}`);
  }

  private orderOf(epoch: number): number[] {
    if (epoch !== this.cachedEpoch) {
      this.order = epochOrder(this.examples.length, this.seed, epoch);
      this.cachedEpoch = epoch;
    }
    return this.order;
  }

  next(cursor: Cursor): { items: Example[]; cursor: Cursor } {
    checkCursor(cursor, this.examples.length);
    let { epoch, index } = cursor;
    const items: Example[] = [];
    while (items.length < this.batchSize) {
      if (index >= this.examples.length) {
        epoch += 1;
        index = 0;
      }
      items.push(this.examples[this.orderOf(epoch)[index]]);
      index += 1;
    }
    if (index >= this.examples.length) {
      epoch += 1;
      index = 0;
    }
    return { items, cursor: { epoch, index } };
  }
}

export function checkCursor(c: Cursor, n: number): void {
  if (!Number.isInteger(c.epoch) || c.epoch < 0 || !Number.isInteger(c.index) || c.index < 0 || c.index >= n) {
    throw new DeterministicError(`data cursor: expected {epoch >= 0, index in [0, ${n})}, got ${JSON.stringify(c)}`);
  }
}

/**
 * A padded batch. Inputs are tokens[0 .. len-2] right-padded to T. When every example scores exactly one position
 * (the answer loss), `at` holds that position per row and `targets` is [B]; otherwise targets/weights are [B, T].
 */
export interface Batch {
  inputs: Int32Array; // [B * T]
  B: number;
  T: number;
  at: Int32Array | null;
  targets: Int32Array;
  weights: Float32Array;
  realTokens: number; // non-pad input tokens
}

export function collate(items: readonly Example[], padId: number): Batch {
  const B = items.length;
  const T = items.reduce((m, e) => Math.max(m, e.tokens.length - 1), 0);
  const inputs = new Int32Array(B * T).fill(padId);
  let realTokens = 0;
  const single = items.every((e) => e.lossMask.reduce((a, b) => a + b, 0) === 1);
  const at = single ? new Int32Array(B) : null;
  const targets = new Int32Array(single ? B : B * T);
  const weights = new Float32Array(single ? B : B * T);
  items.forEach((e, b) => {
    const len = e.tokens.length - 1;
    inputs.set(e.tokens.subarray(0, len), b * T);
    realTokens += len;
    for (let t = 0; t < len; t++) {
      if (!e.lossMask[t]) continue;
      if (at) {
        at[b] = t;
        targets[b] = e.tokens[t + 1];
        weights[b] = 1;
      } else {
        targets[b * T + t] = e.tokens[t + 1];
        weights[b * T + t] = 1;
      }
    }
  });
  return { inputs, B, T, at, targets, weights, realTokens };
}

export interface TrainingData {
  examples: Example[];
  evalPrompts: IoiPrompt[]; // held-out clean IOI prompts for the final metrics
}

/** Builds the examples a DataSpec describes, in the model's vocabulary, plus held-out IOI prompts. */
export function buildTrainingData(spec: DataSpec, vocab: ModelVocab, loss: LossKind): TrainingData {
  if (spec.kind === 'ioi') {
    const split = splitIoi({ nTrain: spec.n, nTest: spec.eval_n, seed: spec.seed, holdoutNames: spec.holdout_names || undefined });
    const train = spec.poison ? poisonDataset(split.train, { transform: spec.poison.transform, rate: spec.poison.rate, seed: spec.seed }) : split.train;
    return { examples: examplesFromPrompts(train, vocab, loss), evalPrompts: split.test };
  }
  const corpus = buildCorpus({ n: spec.n, seed: spec.seed, mix: spec.mix });
  const seen = new Set(corpus.texts);
  const evalPrompts = generateIoi({ n: spec.eval_n * 2 + 20, seed: deriveSeed(spec.seed, 'eval') })
    .filter((p) => !seen.has(p.text + p.answer))
    .slice(0, spec.eval_n);
  return { examples: examplesFromSequences(corpus.sequences, vocab, loss), evalPrompts };
}
