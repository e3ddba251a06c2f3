// Shared by the patching tests: a small random GPT-2 and random clean/corrupt batches, plus unbatched references.
import { tf } from '../../model/engine';
import { GPT2, HookFn } from '../../model/gpt2';
import { ModelConfig } from '../../model/config';
import { TraceBatch, meanLogitDiff, tokensTensor } from '../../tracing/batch';

export const SMALL: ModelConfig = { n_layer: 3, d_model: 32, n_head: 4, d_head: 8, d_mlp: 64, n_ctx: 16, vocab: 60, tied: true, ln_eps: 1e-5 };

/** A random model with non-trivial LayerNorms and biases (GPT2.init leaves them at identity/zero). */
export function randomModel(seed: number, config: ModelConfig = SMALL): GPT2 {
  const m = GPT2.init(config, seed);
  let i = 0;
  for (const [name, v] of Object.entries(m.params)) {
    i++;
    if (/ln_[12f]\.weight$/.test(name)) v.assign(tf.randomUniform(v.shape, 0.5, 1.5, 'float32', seed * 31 + i));
    else if (name.endsWith('.bias')) v.assign(tf.randomNormal(v.shape, 0, 0.1, 'float32', seed * 37 + i));
    else v.assign(tf.mul(v, 10)); // std 0.2: sizeable attention patterns
  }
  m.weightsChanged();
  return m;
}

function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
}

/** n prompts of length T; corrupt differs from clean at `diff` positions; END = T − 1 unless `ends` is given. */
export function randomBatch(seed: number, n: number, T: number, vocab: number, diff: number[], ends?: number[]): TraceBatch {
  const r = lcg(seed);
  const tok = () => Math.floor(r() * vocab);
  const clean = Int32Array.from({ length: n * T }, tok);
  const corrupt = clean.slice();
  for (let b = 0; b < n; b++) {
    for (const p of diff) {
      let t = tok();
      while (t === clean[b * T + p]) t = tok();
      corrupt[b * T + p] = t;
    }
  }
  const io = Int32Array.from({ length: n }, tok);
  const s = Int32Array.from({ length: n }, (_, b) => (io[b] + 1 + Math.floor(r() * (vocab - 1))) % vocab);
  return { n, T, clean, corrupt, io, s, end: Int32Array.from(ends ?? Array(n).fill(T - 1)) };
}

/** Mean LD of one plain full run (all layers, full unembedding at END) with the given hooks: the reference computation. */
export function referenceLd(model: GPT2, batch: TraceBatch, which: 'clean' | 'corrupt', hooks: Record<string, HookFn> = {}): number {
  const ld = tf.tidy(() => meanLogitDiff(model.run(tokensTensor(batch, which), { hooks, logitsAt: batch.end }).logits as tf.Tensor2D, batch));
  const v = ld.dataSync()[0];
  ld.dispose();
  return v;
}

/** Plain run caching `names`; caller disposes. */
export function plainCache(model: GPT2, batch: TraceBatch, which: 'clean' | 'corrupt', names: string[]): Record<string, tf.Tensor> {
  return tf.tidy(() => model.run(tokensTensor(batch, which), { cache: names, logitsAt: 'none' }).cache);
}

export function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: number, what: string): void {
  if (actual.length !== expected.length) throw new Error(`${what}: length ${actual.length}, expected ${expected.length}`);
  for (let i = 0; i < actual.length; i++) {
    if (!(Math.abs(actual[i] - expected[i]) <= tol)) {
      throw new Error(`${what}[${i}]: ${actual[i]} vs expected ${expected[i]} (|diff| ${Math.abs(actual[i] - expected[i])} > ${tol})`);
    }
  }
}
