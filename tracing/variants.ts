// Many patched/ablated variants of one batch in few forward passes: the batch is tiled k times along the batch
// axis (variant i owns rows [i·B, (i+1)·B)), and layers below the first one a variant touches are not recomputed.
import { tf } from '../model/engine';
import { GPT2, HookFn } from '../model/gpt2';
import { hookName } from '../model/hook-names';
import { logitDiffs, TraceBatch, tokensTensor } from './batch';

export const DEFAULT_MAX_ROWS_PER_PASS = 256;

export interface VariantPassOptions {
  count: number;
  /** First layer variant v changes (default 0). Lower layers come from `residPreAt`. */
  startLayerOf?: (v: number) => number;
  /** resid_pre at `layer` of the unmodified run on the same tokens, [B, T, d]; needed when a start layer > 0. */
  residPreAt?: (layer: number) => tf.Tensor;
  /** Hook functions for one pass over the tiled batch; called inside tf.tidy. */
  hooksFor: (variants: number[]) => Record<string, HookFn>;
  tokens?: 'clean' | 'corrupt';
  maxRowsPerPass?: number;
}

/** Repeats a tensor k times along axis 0. */
export function tileRows(t: tf.Tensor, k: number): tf.Tensor {
  if (k === 1) return t;
  return tf.tile(t, [k, ...Array(t.rank - 1).fill(1)]);
}

/** Per-variant per-prompt logit differences (length B each), in variant order. */
export async function runVariants(model: GPT2, batch: TraceBatch, o: VariantPassOptions): Promise<Float32Array[]> {
  const B = batch.n;
  const maxRows = o.maxRowsPerPass ?? DEFAULT_MAX_ROWS_PER_PASS;
  if (!(maxRows >= 1)) throw new Error(`maxRowsPerPass: expected a positive number, got ${maxRows}`);
  const k = Math.max(1, Math.floor(maxRows / B));
  const start = (v: number) => o.startLayerOf?.(v) ?? 0;
  const order = [...Array(o.count).keys()].sort((a, b) => start(a) - start(b) || a - b);
  const out: Float32Array[] = new Array(o.count);
  for (let i = 0; i < order.length; i += k) {
    const chunk = order.slice(i, i + k);
    const layer = Math.min(model.config.n_layer, start(chunk[0]));
    const lds = tf.tidy(() => {
      const kk = chunk.length;
      const tokens = tileRows(tokensTensor(batch, o.tokens ?? 'clean'), kk) as tf.Tensor2D;
      const ends = new Int32Array(kk * B);
      for (let j = 0; j < kk; j++) ends.set(batch.end, j * B);
      let residPre: tf.Tensor3D | undefined;
      if (layer > 0) {
        if (!o.residPreAt) throw new Error('runVariants: a variant starts above layer 0 but no residPreAt was given');
        residPre = tileRows(o.residPreAt(layer), kk) as tf.Tensor3D;
      }
      const { logits } = model.run(tokens, { hooks: o.hooksFor(chunk), startLayer: layer, residPre, logitsAt: ends });
      return logitDiffs(logits as tf.Tensor2D, tiledLabels(batch, kk));
    });
    const vals = (await lds.data()) as Float32Array;
    lds.dispose();
    chunk.forEach((v, j) => (out[v] = vals.slice(j * B, (j + 1) * B)));
  }
  return out;
}

/** The batch's labels repeated k times (only the fields logitDiffs reads). */
function tiledLabels(b: TraceBatch, k: number): TraceBatch {
  if (k === 1) return b;
  const rep = (a: Int32Array) => {
    const r = new Int32Array(a.length * k);
    for (let j = 0; j < k; j++) r.set(a, j * a.length);
    return r;
  };
  return { ...b, n: b.n * k, io: rep(b.io), s: rep(b.s), end: rep(b.end) };
}

/** Runs one batch unmodified and keeps the requested hook values (caller disposes). Also returns per-prompt LD. */
export async function cachedRun(model: GPT2, batch: TraceBatch, which: 'clean' | 'corrupt', names: string[]): Promise<{ cache: Record<string, tf.Tensor>; ld: Float32Array }> {
  const kept = tf.tidy(() => {
    const { logits, cache } = model.run(tokensTensor(batch, which), { cache: names, logitsAt: batch.end });
    return { ...cache, __ld: logitDiffs(logits as tf.Tensor2D, batch) } as Record<string, tf.Tensor>;
  });
  const ld = (await kept.__ld.data()) as Float32Array;
  kept.__ld.dispose();
  delete kept.__ld;
  return { cache: kept, ld: ld.slice() };
}

export function residPreNames(nLayer: number): string[] {
  return [...Array(nLayer).keys()].map((l) => hookName.residPre(l));
}

export function disposeAll(cache: Record<string, tf.Tensor> | tf.Tensor[]): void {
  for (const t of Object.values(cache)) t.dispose();
}

/** Weighted mean over batches of per-prompt values. */
export function meanOver(perBatch: ArrayLike<number>[]): number {
  let sum = 0;
  let n = 0;
  for (const a of perBatch) {
    for (let i = 0; i < a.length; i++) sum += a[i];
    n += a.length;
  }
  if (n === 0) throw new Error('mean over prompts: the trace set is empty');
  return sum / n;
}
