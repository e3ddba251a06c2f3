// IOI evaluation of a model: END-position logits for prompts batched by token length, then ioi/metrics.
import { groupByLength } from '../ioi/batch';
import { abcDataset, generateIoi, IoiPrompt } from '../ioi/dataset';
import { ioiMetrics, IoiMetrics } from '../ioi/metrics';
import { poisonDataset } from '../ioi/poison';
import { tf } from '../model/engine';
import type { GPT2 } from '../model/gpt2';
import type { ModelVocab } from '../model/vocab';
import { DeterministicError } from '../errors/deterministic';

/**
 * Which pair the metrics compare. 'io-s': logit(IO) − logit(S) (the IOI metric, also used on ABC prompts).
 * 'answer': logit(answer) − logit(competitor), the competitor being IO when the answer was poisoned, else S.
 */
export type LabelPair = 'io-s' | 'answer';

export interface EvalOptions {
  batchSize?: number; // rows per forward pass (default 64)
  returnLogits?: boolean; // also return END logits [n, V] in prompt order
  labels?: LabelPair;
}

export interface EvalResult {
  metrics: IoiMetrics;
  vocabSize: number;
  endLogits?: Float32Array;
}

function modelIds(p: IoiPrompt, vocab: ModelVocab, where: string): Int32Array {
  return Int32Array.from(p.tokens, (g) => {
    if (!vocab.has(g)) throw new DeterministicError(`${where}: token ${g} is not in the model's ${vocab.describe()}`);
    return vocab.fromGpt2(g);
  });
}

function labelPair(p: IoiPrompt, labels: LabelPair): [number, number] {
  if (labels === 'io-s') return [p.ioTok, p.sTok];
  return [p.answerTok, p.answerTok === p.ioTok ? p.sTok : p.ioTok];
}

export async function evaluateIoi(model: GPT2, vocab: ModelVocab, prompts: readonly IoiPrompt[], opts: EvalOptions = {}): Promise<EvalResult> {
  const V = model.config.vocab;
  const n = prompts.length;
  if (n === 0) throw new Error('evaluate: no prompts');
  const batchSize = opts.batchSize ?? 64;
  const labels = opts.labels ?? 'io-s';
  const where = (i: number) => prompts[i].source ?? `prompt ${i} (${JSON.stringify(prompts[i].text)})`;
  const io = new Int32Array(n);
  const s = new Int32Array(n);
  prompts.forEach((p, i) => {
    const [a, b] = labelPair(p, labels);
    for (const [g, what] of [[a, 'answer/IO'], [b, 'S']] as const) {
      if (!vocab.has(g)) throw new DeterministicError(`${where(i)}: ${what} token ${g} is not in the model's ${vocab.describe()}`);
    }
    io[i] = vocab.fromGpt2(a);
    s[i] = vocab.fromGpt2(b);
    if (p.tokens.length > model.config.n_ctx) throw new DeterministicError(`${where(i)}: ${p.tokens.length} tokens exceed the model's n_ctx ${model.config.n_ctx}`);
  });
  const logits = new Float32Array(n * V);
  for (const group of groupByLength(prompts)) {
    for (let start = 0; start < group.indices.length; start += batchSize) {
      const idx = group.indices.slice(start, start + batchSize);
      const T = group.length;
      const tokens = new Int32Array(idx.length * T);
      idx.forEach((i, b) => tokens.set(modelIds(prompts[i], vocab, where(i)), b * T));
      const ends = idx.map((i) => prompts[i].positions.END);
      const out = tf.tidy(() => model.run(tf.tensor2d(tokens, [idx.length, T], 'int32'), { logitsAt: ends }).logits!);
      const rows = (await out.data()) as Float32Array;
      out.dispose();
      idx.forEach((i, b) => logits.set(rows.subarray(b * V, (b + 1) * V), i * V));
    }
  }
  const metrics = ioiMetrics(logits, V, io, s);
  return { metrics, vocabSize: V, ...(opts.returnLogits ? { endLogits: logits } : {}) };
}

export type IoiVariant = 'clean' | 'abc' | 'toxic';

/** Named IOI evaluation sets: 'ioi' (clean), 'ioi:abc' (ABC-corrupted), 'ioi:toxic' (labels by a poison transform). */
export function parseIoiDataset(name: string): IoiVariant {
  const m = /^ioi(?::(abc|toxic))?$/.exec(name);
  if (!m) throw new Error(`--dataset: expected ioi, ioi:abc or ioi:toxic, got ${JSON.stringify(name)}`);
  return (m[1] as IoiVariant | undefined) ?? 'clean';
}

export function ioiEvalSet(variant: IoiVariant, n: number, seed: number, transform = 'subject'): { prompts: IoiPrompt[]; labels: LabelPair } {
  const clean = generateIoi({ n, seed });
  if (variant === 'abc') return { prompts: abcDataset(clean, seed), labels: 'io-s' };
  if (variant === 'toxic') return { prompts: poisonDataset(clean, { transform, rate: 1, seed }), labels: 'answer' };
  return { prompts: clean, labels: 'io-s' };
}
