// Many patched/ablated variants of one batch in few forward passes: the batch is tiled k times along the batch
// axis (variant i owns rows [i·B, (i+1)·B)); layers below the first one a variant touches are not recomputed; the
// pass runs one block at a time (only one layer's activations alive) and reads the logit difference at END from
// two unembedding rows instead of the full vocabulary.
import { tf } from '../model/engine';
import { GPT2, HookFn, LM_HEAD, WTE } from '../model/gpt2';
import { HOOK_LN_FINAL, hookName } from '../model/hook-names';
import { logitDiffs, TraceBatch, tokensTensor } from './batch';

/** Memory for the activations of one block over all rows of a pass (sets the variants per pass). */
export const DEFAULT_MEMORY_BUDGET_MB = 256;

/** Pass sizing shared by knockout and CMAP. */
export interface PassOptions {
  /** Upper bound on rows (variants × prompts) per pass; default from memoryBudgetMB. */
  maxRowsPerPass?: number;
  /** Memory for one block's activations over a pass (default 256 MB). */
  memoryBudgetMB?: number;
}

export interface VariantPassOptions extends PassOptions {
  count: number;
  /** First layer variant v changes (default 0). Lower layers come from `residPreAt`. */
  startLayerOf?: (v: number) => number;
  /** resid_pre at `layer` of the unmodified run on the same tokens, [B, T, d]; needed when a start layer > 0. */
  residPreAt?: (layer: number) => tf.Tensor;
  /** Hook functions for one pass over the tiled batch (values have k·B rows); called once per pass. */
  hooksFor: (variants: number[]) => Record<string, HookFn>;
  tokens?: 'clean' | 'corrupt';
}

/** Repeats a tensor k times along axis 0 (concat: wasm's Tile kernel is much slower). */
export function tileRows(t: tf.Tensor, k: number): tf.Tensor {
  return k === 1 ? t : tf.concat(Array(k).fill(t), 0);
}

/** Approximate bytes one row of length T needs while one block runs. */
export function bytesPerRowLayer(model: GPT2, T: number): number {
  const { d_model: d, d_mlp: m, n_head: H } = model.config;
  return 4 * T * (32 * d + 12 * m + 6 * H * T);
}

/** Rows per pass: the memory budget, capped by maxRowsPerPass, at least one variant (B rows). */
export function rowsPerPass(model: GPT2, batch: TraceBatch, o: Pick<VariantPassOptions, 'maxRowsPerPass' | 'memoryBudgetMB'>): number {
  const budget = o.memoryBudgetMB ?? DEFAULT_MEMORY_BUDGET_MB;
  if (!(budget > 0)) throw new Error(`memoryBudgetMB: expected a positive number, got ${budget}`);
  if (o.maxRowsPerPass !== undefined && !(o.maxRowsPerPass >= 1)) throw new Error(`maxRowsPerPass: expected a positive number, got ${o.maxRowsPerPass}`);
  const byMemory = Math.floor((budget * 2 ** 20) / bytesPerRowLayer(model, batch.T));
  return Math.max(batch.n, Math.min(byMemory, o.maxRowsPerPass ?? Infinity));
}

/** logit(io) − logit(s) per row from final-normalised END rows [R, 1, d]: rows · (W_U[io] − W_U[s]). */
function endLogitDiffs(model: GPT2, normed: tf.Tensor, io: Int32Array, s: Int32Array): tf.Tensor1D {
  const W = (model.config.tied ? model.params[WTE] : model.params[LM_HEAD]) as tf.Tensor2D; // [V, d]
  const dir = tf.sub(tf.gather(W, tf.tensor1d(io, 'int32')), tf.gather(W, tf.tensor1d(s, 'int32')));
  return tf.sum(tf.mul(tf.reshape(normed, dir.shape), dir), -1) as tf.Tensor1D;
}

/** Per-variant per-prompt logit differences (length B each), in variant order. */
export async function runVariants(model: GPT2, batch: TraceBatch, o: VariantPassOptions): Promise<Float32Array[]> {
  const B = batch.n;
  const T = batch.T;
  const L = model.config.n_layer;
  const k = Math.max(1, Math.floor(rowsPerPass(model, batch, o) / B));
  const start = (v: number) => o.startLayerOf?.(v) ?? 0;
  const order = [...Array(o.count).keys()].sort((a, b) => start(a) - start(b) || a - b);
  const out: Float32Array[] = new Array(o.count);
  for (let i = 0; i < order.length; ) {
    // a pass holds up to k variants with the same start layer (a mixed pass would recompute the higher ones' lower layers)
    let j = i + 1;
    while (j < order.length && j - i < k && start(order[j]) === start(order[i])) j++;
    const chunk = order.slice(i, j);
    i = j;
    const kk = chunk.length;
    const rows = kk * B;
    const first = Math.min(L, start(chunk[0]));
    const hooks = o.hooksFor(chunk);
    const tokens = first === 0 ? (tileRows(tokensTensor(batch, o.tokens ?? 'clean'), kk) as tf.Tensor2D) : (tf.zeros([rows, T], 'int32') as tf.Tensor2D);
    if (first >= L) throw new Error(`runVariants: variant ${chunk[0]} starts at layer ${first}, after the last block`);
    let resid: tf.Tensor3D | undefined;
    let owned = false; // resid is ours to dispose (not the caller's cached resid_pre)
    if (first > 0) {
      if (!o.residPreAt) throw new Error('runVariants: a variant starts above layer 0 but no residPreAt was given');
      const src = o.residPreAt(first) as tf.Tensor3D;
      resid = kk === 1 ? src : (tf.tidy(() => tileRows(src, kk)) as tf.Tensor3D);
      owned = kk > 1;
    }
    try {
      for (let l = first; l < L; l++) {
        const name = hookName.residPost(l);
        const next = tf.tidy(() => {
          const { cache } = model.run(tokens, { hooks, startLayer: l, endLayer: l + 1, residPre: resid, cache: [name], logitsAt: 'none' });
          return cache[name] as tf.Tensor3D;
        });
        if (resid && owned) resid.dispose();
        resid = next;
        owned = true;
      }
      const tiled = tiledLabels(batch, kk);
      const lds = tf.tidy(() => {
        const endRows = Int32Array.from(tiled.end, (p, r) => r * T + p);
        const picked = tf.reshape(tf.gather(tf.reshape(resid!, [rows * T, -1]), tf.tensor1d(endRows, 'int32')), [rows, 1, -1]) as tf.Tensor3D;
        const { cache } = model.run(tf.zeros([rows, 1], 'int32') as tf.Tensor2D, { hooks, startLayer: L, residPre: picked, cache: [HOOK_LN_FINAL], logitsAt: 'none' });
        return endLogitDiffs(model, cache[HOOK_LN_FINAL], tiled.io, tiled.s);
      });
      const vals = (await lds.data()) as Float32Array;
      lds.dispose();
      chunk.forEach((v, j) => (out[v] = vals.slice(j * B, (j + 1) * B)));
    } finally {
      if (resid && owned) resid.dispose();
      tokens.dispose();
    }
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
