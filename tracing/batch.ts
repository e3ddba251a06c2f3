// The prompt batches every tracing method consumes: clean/corrupt token ids of one length, plus the answer ids.
import { tf } from '../model/engine';

export interface NamedPositions {
  IO: number;
  S1: number;
  S2: number;
  S1p1: number;
  END: number;
}

/** n prompts of equal length T (model token ids, i.e. compact-vocab ids when the model uses one). */
export interface TraceBatch {
  n: number;
  T: number;
  clean: Int32Array; // [n*T]
  corrupt: Int32Array; // [n*T]
  io: Int32Array; // [n] answer (indirect object) id
  s: Int32Array; // [n] subject id
  end: Int32Array; // [n] END position
  template?: Int32Array; // [n] template index (knockout means are per template)
  positions?: NamedPositions[]; // per prompt, when known (IOI prompts)
}

/** Prompts of different lengths are traced as several same-length batches; scores average with weights n. */
export type TraceSet = TraceBatch[];

export function tokensTensor(b: TraceBatch, which: 'clean' | 'corrupt'): tf.Tensor2D {
  return tf.tensor2d(b[which], [b.n, b.T], 'int32');
}

/** Mean logit difference logit(IO) − logit(S) over the batch, from END logits [n, V]. */
export function meanLogitDiff(endLogits: tf.Tensor2D, b: TraceBatch): tf.Scalar {
  return tf.tidy(() => tf.mean(logitDiffs(endLogits, b)) as tf.Scalar);
}

/** Per-prompt logit difference [n] from END logits [n, V]. */
export function logitDiffs(endLogits: tf.Tensor2D, b: TraceBatch): tf.Tensor1D {
  return tf.tidy(() => {
    const V = endLogits.shape[1];
    const rows = Int32Array.from({ length: b.n }, (_, i) => i * V);
    const flat = tf.reshape(endLogits, [-1]);
    const io = tf.gather(flat, tf.add(tf.tensor1d(rows, 'int32'), tf.tensor1d(b.io, 'int32')));
    const s = tf.gather(flat, tf.add(tf.tensor1d(rows, 'int32'), tf.tensor1d(b.s, 'int32')));
    return tf.sub(io, s) as tf.Tensor1D;
  });
}

export function totalPrompts(set: TraceSet): number {
  return set.reduce((a, b) => a + b.n, 0);
}
