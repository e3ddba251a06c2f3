// The batched patching engine every method runs on (activation, path, knockout, circuit evaluation, CMAP): the
// base batch is tiled K times along the batch axis (copy k owns rows [k·B, (k+1)·B)), each copy gets its own patch
// through a 0/1 mask over the batch axis, the pass starts at the lowest patched layer from the base run's cached
// resid_pre, runs one layer at a time (only one layer's activations are alive), runs the top block at END rows only
// and reads the logit difference at END directly from two unembedding rows. Copies per pass follow the memory
// budget (copiesFor); runVariants is the generic runner (a method supplies start layers and hook plans).
import { tf } from '../model/engine';
import { GPT2, HookFn, LM_HEAD, WTE } from '../model/gpt2';
import { HOOK_LN_FINAL, hookName } from '../model/hook-names';
import { mixMasked } from '../model/patch';
import { NamedPositions, TraceBatch, tokensTensor } from './batch';

export type PositionName = keyof NamedPositions;

/** Which positions of each row a patch covers: all, one index, or a named IOI position (per row). */
export type PositionSel = 'all' | { index: number } | { name: PositionName };

/** One replaced activation: `hook` at block `layer`, optionally one head (q/k/v/z hooks) and some positions. */
export interface PatchSpec {
  hook: string;
  layer: number;
  head?: number;
  positions?: PositionSel;
}

/** A patched run = a set of patches applied together. */
export type Variant = PatchSpec[];

/** The cached values of one unpatched run, plus its per-prompt logit differences. */
export interface RunCache {
  ld: Float32Array;
  cache: Record<string, tf.Tensor>;
}

/** A trace batch with its clean and corrupt runs cached (the sources and bases of every patch). */
export interface PreparedBatch {
  batch: TraceBatch;
  clean: RunCache;
  corrupt: RunCache;
}

export function residPreNames(nLayer: number): string[] {
  return Array.from({ length: nLayer }, (_, l) => hookName.residPre(l));
}

/**
 * Runs `which` tokens unpatched, keeping `names` (and the LD at END); the caller disposes the tensors.
 * `endRowsOnly`: the top block runs at END only (its z etc. are then [B, 1, ...]).
 */
export function cacheRun(model: GPT2, batch: TraceBatch, which: 'clean' | 'corrupt', names: Iterable<string>, endRowsOnly = false): RunCache {
  const wanted = new Set(names);
  const kept = tf.tidy(() => {
    const { cache } = model.run(tokensTensor(batch, which), { cache: [...wanted, HOOK_LN_FINAL], logitsAt: 'none', lastBlockRows: endRowsOnly ? batch.end : undefined });
    const ld = endLogitDiff(model, cache[HOOK_LN_FINAL], endRowsOnly ? null : batch.end, batch.io, batch.s);
    const out: Record<string, tf.Tensor> = { __ld: ld };
    for (const n of wanted) out[n] = cache[n];
    return out;
  });
  const ld = kept.__ld.dataSync().slice() as Float32Array;
  kept.__ld.dispose();
  delete kept.__ld;
  return { ld, cache: kept };
}

/** Caches both runs of a batch: every layer's resid_pre (pass starts) plus `names`. */
export function prepareBatch(model: GPT2, batch: TraceBatch, names: Iterable<string> = []): PreparedBatch {
  checkBatch(model, batch);
  const all = [...residPreNames(model.config.n_layer), ...names];
  return { batch, clean: cacheRun(model, batch, 'clean', all), corrupt: cacheRun(model, batch, 'corrupt', all) };
}

export function disposePrepared(p: PreparedBatch): void {
  for (const r of [p.clean, p.corrupt]) for (const t of Object.values(r.cache)) t.dispose();
}

export function checkBatch(model: GPT2, b: TraceBatch): void {
  const { vocab, n_ctx } = model.config;
  if (b.clean.length !== b.n * b.T || b.corrupt.length !== b.n * b.T) {
    throw new Error(`trace batch: clean/corrupt must hold n·T = ${b.n}·${b.T} ids, got ${b.clean.length}/${b.corrupt.length}`);
  }
  if (b.T > n_ctx) throw new Error(`trace batch: T = ${b.T} exceeds the model's n_ctx ${n_ctx}`);
  for (const [name, arr, hi] of [['io', b.io, vocab], ['s', b.s, vocab], ['end', b.end, b.T]] as const) {
    if (arr.length !== b.n) throw new Error(`trace batch: '${name}' has ${arr.length} entries, expected n = ${b.n}`);
    for (let i = 0; i < arr.length; i++) {
      if (!(arr[i] >= 0 && arr[i] < hi)) throw new Error(`trace batch: ${name}[${i}] = ${arr[i]} is outside [0, ${hi})`);
    }
  }
}

/** Unembedding rows [V, d] (tied: the token embedding; untied: lm_head in HF layout). */
function unembedRows(model: GPT2): tf.Tensor2D {
  return (model.config.tied ? model.params[WTE] : model.params[LM_HEAD]) as tf.Tensor2D;
}

/**
 * Logit difference logit(io) − logit(s) per row from final-normalised activations [R, T, d] (or [R, 1, d] of END
 * rows when `end` is null), as normed[END] · (W_U[:, io] − W_U[:, s]): no full-vocabulary unembedding.
 */
export function endLogitDiff(model: GPT2, normed: tf.Tensor, end: Int32Array | null, io: Int32Array, s: Int32Array): tf.Tensor1D {
  return tf.tidy(() => {
    const [R, T, d] = normed.shape as [number, number, number];
    let rows = tf.reshape(normed, [R * T, d]);
    if (end) rows = tf.gather(rows, tf.tensor1d(Int32Array.from(end, (p, r) => r * T + p), 'int32'));
    const W = unembedRows(model);
    const dir = tf.sub(tf.gather(W, tf.tensor1d(io, 'int32')), tf.gather(W, tf.tensor1d(s, 'int32')));
    return tf.sum(tf.mul(rows, dir), -1) as tf.Tensor1D;
  });
}

/** Repeats a tensor k times along axis 0 (concat: wasm's Tile kernel is an order of magnitude slower). */
export function tileRows(t: tf.Tensor, k: number): tf.Tensor {
  return k === 1 ? t : tf.concat(Array(k).fill(t), 0);
}

export function repeatInt(a: Int32Array, k: number): Int32Array {
  const r = new Int32Array(a.length * k);
  for (let j = 0; j < k; j++) r.set(a, j * a.length);
  return r;
}

/** Positions of row b covered by a selector. */
export function selectedPositions(batch: TraceBatch, b: number, sel: PositionSel = 'all'): number[] {
  if (sel === 'all') return [...Array(batch.T).keys()];
  let p: number;
  if ('index' in sel) p = sel.index;
  else if (sel.name === 'END' && !batch.positions) p = batch.end[b];
  else {
    if (!batch.positions) throw new Error(`positions: '${sel.name}' needs named positions (trace batch has no 'positions')`);
    p = batch.positions[b][sel.name];
  }
  if (!Number.isInteger(p) || p < 0 || p >= batch.T) throw new Error(`positions: row ${b} position ${p} is outside [0, ${batch.T})`);
  return [p];
}

/** How one hook point of a tiled pass is overwritten: `source` (B rows, tiled; or K·B rows) where `mask` is 1. */
export interface HookPlan {
  source: tf.Tensor;
  /** 0/1 over [K·B, T, H] (head hooks) or [K·B, T] (others); undefined = replace the whole value. */
  mask?: Float32Array;
}

/** Builds the 0/1 mask of one hook over the tiled batch from the patches each copy applies there. */
export function maskFor(batch: TraceBatch, copies: Variant[], hook: string, heads: number): Float32Array | undefined {
  const B = batch.n;
  const T = batch.T;
  const m = new Float32Array(copies.length * B * T * heads);
  let any = false;
  copies.forEach((variant, k) => {
    for (const p of variant) {
      if (p.hook !== hook) continue;
      any = true;
      if (p.head !== undefined && !(p.head >= 0 && p.head < heads && heads > 1)) {
        throw new Error(`patch ${hook}: head ${p.head} is outside [0, ${heads}) or the hook has no head axis`);
      }
      for (let b = 0; b < B; b++) {
        for (const pos of selectedPositions(batch, b, p.positions)) {
          const base = ((k * B + b) * T + pos) * heads;
          if (p.head === undefined) m.fill(1, base, base + heads);
          else m[base + p.head] = 1;
        }
      }
    }
  });
  return any ? m : undefined;
}

/** Rows b·T + end[b mod B] of a [R, T, ...] tensor, as [R, 1, ...] (the END rows of a row-restricted top block). */
export function endRowsOf(t: tf.Tensor, end: Int32Array): tf.Tensor {
  const [R, T] = t.shape;
  const idx = Int32Array.from({ length: R }, (_, r) => r * T + end[r % end.length]);
  return tf.reshape(tf.gather(tf.reshape(t, [R * T, ...t.shape.slice(2)]), tf.tensor1d(idx, 'int32')), [R, 1, ...t.shape.slice(2)]);
}

/** Each plan's source mixed in where its mask is 1 (model/patch.ts mixMasked). `end`: END per base row. */
function mixHook(plans: HookPlan[], copies: number, rows: number, end: Int32Array): HookFn {
  return (value) => {
    let out = value;
    const B = rows / copies;
    for (const plan of plans) {
      const perCopy = plan.source.shape[0] !== rows || copies === 1;
      // In a row-restricted top block the hook holds END rows only: take the same rows of source and mask.
      const endOnly = value.shape[1] === 1 && plan.source.shape[1] !== 1;
      const source = endOnly ? endRowsOf(plan.source, end) : plan.source;
      if (!plan.mask) {
        out = perCopy ? tileRows(source, copies) : source;
        continue;
      }
      const inner = value.shape.slice(1);
      let mask = plan.mask;
      if (endOnly) {
        const T = plan.source.shape[1] as number;
        const width = plan.mask.length / (rows * T);
        mask = new Float32Array(rows * width);
        for (let r = 0; r < rows; r++) mask.set(plan.mask.subarray((r * T + end[r % B]) * width, (r * T + end[r % B] + 1) * width), r * width);
      }
      // [K, B, ...] views: a B-row source broadcasts over the copies instead of being tiled.
      const m = tf.tensor(mask, [copies, B, ...inner.slice(0, -1), 1]);
      const src = tf.reshape(source, [perCopy ? 1 : copies, B, ...inner]);
      const mixed = mixMasked(tf.reshape(out, [copies, B, ...inner]), src, m);
      out = tf.reshape(mixed, value.shape);
    }
    return out;
  };
}

export interface TiledPassOptions {
  /** The batch whose labels/END positions are used. */
  batch: TraceBatch;
  copies: number;
  /** resid_pre at startLayer of the base run, [B, T, d] (tiled here). */
  residPre: tf.Tensor;
  startLayer: number;
  /** Stop after block endLayer − 1 (default n_layer: read the LD at END). */
  endLayer?: number;
  plans: Record<string, HookPlan[]>;
  /** Hook names whose values (on the tiled batch) are returned. */
  capture?: string[];
}

export interface TiledPassResult {
  /** Per-row LD over the tiled batch [K·B] when the pass reached the top. */
  ld?: Float32Array;
  captured: Record<string, tf.Tensor>;
}

/** One tiled pass, layer by layer. Captured tensors are the caller's to dispose. */
export function tiledPass(model: GPT2, o: TiledPassOptions): TiledPassResult {
  const L = model.config.n_layer;
  const end = o.endLayer ?? L;
  const B = o.batch.n;
  const rows = o.copies * B;
  const hooks: Record<string, HookFn> = {};
  for (const [name, plans] of Object.entries(o.plans)) if (plans.length) hooks[name] = mixHook(plans, o.copies, rows, o.batch.end);
  const capture = new Set(o.capture ?? []);
  const captured: Record<string, tf.Tensor> = {};
  const dummyTokens = tf.zeros([rows, o.batch.T], 'int32') as tf.Tensor2D;
  const ends = repeatInt(o.batch.end, o.copies);
  // The top block only matters at END: patches there apply to END rows; captures of its later hooks and attention
  // pattern patches (another layout) need every row.
  const top = `blocks.${L - 1}.`;
  const allRows = /\.(hook_resid_pre|attn\.hook_[qkv])$/;
  const fullTopNeeded = [...capture].some((n) => n.startsWith(top) && !allRows.test(n)) || Object.keys(hooks).some((n) => n.startsWith(top) && n.endsWith('hook_pattern'));
  let resid = tileRows(o.residPre, o.copies) as tf.Tensor3D;
  let owned = o.copies > 1;
  let ld: Float32Array | undefined;
  try {
    for (let l = o.startLayer; l < end; l++) {
      const last = l === L - 1;
      const out = tf.tidy(() => {
        const names = [last ? HOOK_LN_FINAL : hookName.residPost(l), ...[...capture].filter((n) => n.startsWith(`blocks.${l}.`))];
        const { cache } = model.run(dummyTokens, {
          startLayer: l, endLayer: l + 1, residPre: resid, hooks, cache: names, logitsAt: 'none',
          lastBlockRows: last && !fullTopNeeded ? ends : undefined,
        });
        const kept: Record<string, tf.Tensor> = {};
        for (const n of names) kept[n] = cache[n];
        if (last) {
          const normed = kept[HOOK_LN_FINAL];
          kept[HOOK_LN_FINAL] = endLogitDiff(model, normed, normed.shape[1] === 1 ? null : ends, repeatInt(o.batch.io, o.copies), repeatInt(o.batch.s, o.copies));
        }
        return kept;
      });
      if (owned) resid.dispose();
      owned = false;
      if (last) {
        ld = out[HOOK_LN_FINAL].dataSync().slice() as Float32Array;
        out[HOOK_LN_FINAL].dispose();
        delete out[HOOK_LN_FINAL];
      } else {
        resid = out[hookName.residPost(l)] as tf.Tensor3D;
        owned = !capture.has(hookName.residPost(l)); // a captured residual belongs to the caller
      }
      for (const [n, t] of Object.entries(out)) if (n !== hookName.residPost(l) || !owned) captured[n] = t;
    }
    return { ld, captured };
  } finally {
    if (owned) resid.dispose();
    dummyTokens.dispose();
  }
}

/** Mean of each copy's B per-prompt values: [K·B] → [K]. */
export function copyMeans(perRow: Float32Array, B: number): Float64Array {
  const K = perRow.length / B;
  const out = new Float64Array(K);
  for (let k = 0; k < K; k++) {
    let s = 0;
    for (let b = 0; b < B; b++) s += perRow[k * B + b];
    out[k] = s / B;
  }
  return out;
}

export function mean(a: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i];
  return s / a.length;
}

/** Approximate bytes one copy of a B×T batch needs while one layer runs (activations alive in that layer). */
export function bytesPerCopyLayer(model: GPT2, B: number, T: number): number {
  const { d_model: d, d_mlp: m, n_head: H } = model.config;
  return 4 * B * T * (32 * d + 12 * m + 6 * H * T);
}

/** Rows [from, to) of a batch as a batch of its own. */
export function sliceRows(b: TraceBatch, from: number, to: number): TraceBatch {
  const T = b.T;
  return {
    n: to - from, T,
    clean: b.clean.slice(from * T, to * T), corrupt: b.corrupt.slice(from * T, to * T),
    io: b.io.slice(from, to), s: b.s.slice(from, to), end: b.end.slice(from, to),
    template: b.template?.slice(from, to), positions: b.positions?.slice(from, to),
  };
}

/** Splits batches into row ranges of at most maxRows prompts (prompt-weighted means are unchanged by this). */
export function splitRows(set: TraceBatch[], maxRows: number): TraceBatch[] {
  if (!(Number.isInteger(maxRows) && maxRows >= 1)) throw new Error(`splitRows: maxRows must be a positive integer, got ${maxRows}`);
  return set.flatMap((b) => (b.n <= maxRows ? [b] : Array.from({ length: Math.ceil(b.n / maxRows) }, (_, i) => sliceRows(b, i * maxRows, Math.min(b.n, (i + 1) * maxRows)))));
}

/** Prompts per batch such that `layersAlive` layers of activations of one copy fit the budget (at least 1). */
export function rowsForBudget(model: GPT2, T: number, budgetMB: number, layersAlive = 1): number {
  if (!(budgetMB > 0)) throw new Error(`memoryBudgetMB: expected a positive number, got ${budgetMB}`);
  return Math.max(1, Math.floor((budgetMB * 2 ** 20) / (layersAlive * bytesPerCopyLayer(model, 1, T))));
}

/** A set whose batches each fit the budget with one copy per pass. */
export function fitToBudget(model: GPT2, set: TraceBatch[], budgetMB: number, layersAlive = 1): TraceBatch[] {
  return set.flatMap((b) => splitRows([b], rowsForBudget(model, b.T, budgetMB, layersAlive)));
}

export const DEFAULT_MEMORY_BUDGET_MB = 256;
export const DEFAULT_MAX_COPIES = 64;

/** Copies per pass that fit a memory budget (at least 1), capped by maxCopies and by maxRowsPerPass rows. */
export function copiesFor(model: GPT2, batch: TraceBatch, budgetMB = DEFAULT_MEMORY_BUDGET_MB, maxCopies = DEFAULT_MAX_COPIES, maxRowsPerPass?: number): number {
  if (!(budgetMB > 0)) throw new Error(`memoryBudgetMB: expected a positive number, got ${budgetMB}`);
  if (!(Number.isInteger(maxCopies) && maxCopies >= 1)) throw new Error(`maxCopies: expected a positive integer, got ${maxCopies}`);
  if (maxRowsPerPass !== undefined && !(maxRowsPerPass >= 1)) throw new Error(`maxRowsPerPass: expected a positive number, got ${maxRowsPerPass}`);
  const byRows = maxRowsPerPass === undefined ? Infinity : Math.floor(maxRowsPerPass / batch.n);
  return Math.max(1, Math.min(maxCopies, byRows, Math.floor((budgetMB * 2 ** 20) / bytesPerCopyLayer(model, batch.n, batch.T))));
}

/** Pass sizing every method accepts (trace.memory_budget_mb and friends). */
export interface PassOptions {
  /** Memory for one block's activations over all copies of a pass (default 256 MB); also splits oversized batches. */
  memoryBudgetMB?: number;
  maxCopies?: number;
  /** Upper bound on rows (copies × prompts) per pass. */
  maxRowsPerPass?: number;
}

export interface VariantRunOptions extends PassOptions {
  count: number;
  /** Lowest layer variant v changes: its passes start there from the base run's resid_pre (default 0). */
  startLayerOf?: (v: number) => number;
  /** The base run's resid_pre at a layer, [B, T, d]. */
  residPreAt: (layer: number) => tf.Tensor;
  /** The hook plans of one pass over the given variants (copy k = variants[k]); their masks cover k·B rows. */
  plansFor: (variants: number[]) => Record<string, HookPlan[]>;
  /** After each pass: variants done of count. */
  onPass?: (done: number, count: number) => void;
}

/**
 * Per-variant per-prompt logit differences (length B each, in variant order): variants sorted by start layer, up to
 * copiesFor() of the same start layer per tiled pass.
 */
export function runVariants(model: GPT2, batch: TraceBatch, o: VariantRunOptions): Float32Array[] {
  const B = batch.n;
  const L = model.config.n_layer;
  const k = copiesFor(model, batch, o.memoryBudgetMB, o.maxCopies, o.maxRowsPerPass);
  const start = (v: number) => o.startLayerOf?.(v) ?? 0;
  const order = [...Array(o.count).keys()].sort((a, b) => start(a) - start(b) || a - b);
  const out: Float32Array[] = new Array(o.count);
  let done = 0;
  for (let i = 0; i < order.length; ) {
    let j = i + 1;
    while (j < order.length && j - i < k && start(order[j]) === start(order[i])) j++;
    const chunk = order.slice(i, j);
    i = j;
    const layer = start(chunk[0]);
    if (!(Number.isInteger(layer) && layer >= 0 && layer < L)) throw new Error(`runVariants: variant ${chunk[0]} starts at layer ${layer}, outside [0, ${L})`);
    const { ld } = tiledPass(model, { batch, copies: chunk.length, residPre: o.residPreAt(layer), startLayer: layer, plans: o.plansFor(chunk) });
    chunk.forEach((v, c) => (out[v] = ld!.slice(c * B, (c + 1) * B)));
    done += chunk.length;
    o.onPass?.(done, o.count);
  }
  return out;
}

export function disposeAll(cache: Record<string, tf.Tensor> | tf.Tensor[]): void {
  for (const t of Object.values(cache)) t.dispose();
}

/** Prompt-weighted mean over batches of per-prompt values. */
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

/** Progress of a method in its own units (heads, specs, …), for the stage's progress callback. */
export type ItemProgress = (done: number, total: number) => void;
