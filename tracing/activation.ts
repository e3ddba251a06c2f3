// Exact activation patching: per head (hook_z, all positions or per position), residual stream, attention and
// MLP outputs per layer × position, in both directions, batched (many patched copies per forward pass).
import { activeBackend } from '../model/engine';
import { GPT2 } from '../model/gpt2';
import { hookName } from '../model/hook-names';
import { TraceBatch, TraceSet } from './batch';
import {
  DEFAULT_MAX_COPIES, DEFAULT_MEMORY_BUDGET_MB, HookPlan, PositionName, PositionSel, PreparedBatch, Variant,
  copiesFor, copyMeans, fitToBudget, disposePrepared, maskFor, mean, prepareBatch, selectedPositions, tiledPass,
} from './batched';
import { Scores, ScoreMetric, makeScores } from './scores';
import { SweepControl, fingerprint, runSweep } from './sweep';

export type ActivationTarget = 'head_z' | 'head_z_pos' | 'resid_pre' | 'attn_out' | 'mlp_out';
export const ACTIVATION_TARGETS: readonly ActivationTarget[] = ['head_z', 'head_z_pos', 'resid_pre', 'attn_out', 'mlp_out'];

/**
 * noising: run the clean prompts and patch in the corrupt run's activation (how much the component is needed);
 * denoising: run the corrupt prompts and patch in the clean activation (how much it restores).
 */
export type PatchDirection = 'noising' | 'denoising';

export interface BatchingOptions {
  /** Memory for one batched pass (activations of one layer over all copies); sets the copies per pass. */
  memoryBudgetMB?: number;
  maxCopies?: number;
  /** Resumable sweep: load/save/abort. */
  sweep?: SweepControl;
}

export interface ActivationPatchingOptions extends BatchingOptions {
  target: ActivationTarget;
  direction?: PatchDirection;
  /** Per-position targets: every index 0..T−1 ('each', the default; needs one T) or named IOI positions. */
  positions?: 'each' | PositionName[];
  /** Restrict to these layers (default all). */
  layers?: number[];
  /** Skip the forward pass of a patch whose source equals the base value everywhere it writes (default true). */
  skipUnchanged?: boolean;
  /** Also return each prompt's patched logit difference (PatchingResult.perPrompt). */
  perPrompt?: boolean;
}

export interface PatchingStats {
  variants: number;
  /** Patched forward passes actually run (each over `copies` tiled copies of a batch). */
  passes: number;
  /** Variants answered without a pass (the patch changed nothing). */
  skipped: number;
  copiesPerPass: number[];
  ms: number;
}

export interface PatchingResult {
  /** The patched metric itself (mean logit difference). */
  patched: Scores;
  /** (patched − corrupt)/(clean − corrupt): 1 = clean behaviour, 0 = corrupt behaviour. */
  normalised: Scores;
  clean: number;
  corrupt: number;
  stats: PatchingStats;
  /**
   * With options.perPrompt, when this call computed every pass (not resumed): per prompt (prompt order) the patched
   * logit difference of every component [prompt × component, in component order: layer-major for head_z], and the
   * unpatched clean and corrupt ones.
   */
  perPrompt?: { components: number; patched: Float32Array; clean: Float32Array; corrupt: Float32Array };
}

export const LOGIT_DIFF = 'logit_diff';
export const NORMALISED_FORMULA = '(patched − corrupt)/(clean − corrupt)';

interface Component {
  coord: number[];
  variant: Variant;
}

function hookOf(target: ActivationTarget, l: number): string {
  switch (target) {
    case 'head_z':
    case 'head_z_pos': return hookName.z(l);
    case 'resid_pre': return hookName.residPre(l);
    case 'attn_out': return hookName.attnOut(l);
    case 'mlp_out': return hookName.mlpOut(l);
  }
}

function positionAxis(set: TraceSet, spec: 'each' | PositionName[]): { sels: PositionSel[]; labels: string[] } {
  if (spec === 'each') {
    const Ts = new Set(set.map((b) => b.T));
    if (Ts.size !== 1) throw new Error(`positions 'each' needs prompts of one length; got lengths ${[...Ts].join(', ')} (use named positions)`);
    const T = set[0].T;
    return { sels: Array.from({ length: T }, (_, p) => ({ index: p })), labels: Array.from({ length: T }, (_, p) => String(p)) };
  }
  if (!spec.length) throw new Error('positions: expected "each" or a non-empty list of named positions');
  return { sels: spec.map((name) => ({ name })), labels: spec.map((n) => (n === 'S1p1' ? 'S1+1' : n)) };
}

function componentsFor(model: GPT2, set: TraceSet, o: ActivationPatchingOptions): { axes: string[]; shape: number[]; labels?: Record<string, string[]>; comps: Component[] } {
  const { n_layer: L, n_head: H } = model.config;
  const layers = o.layers ?? [...Array(L).keys()];
  for (const l of layers) if (!(Number.isInteger(l) && l >= 0 && l < L)) throw new Error(`layers: ${l} is outside [0, ${L})`);
  const comps: Component[] = [];
  if (o.target === 'head_z') {
    layers.forEach((l, li) => { for (let h = 0; h < H; h++) comps.push({ coord: [li, h], variant: [{ hook: hookName.z(l), layer: l, head: h }] }); });
    return { axes: ['layer', 'head'], shape: [layers.length, H], labels: layerLabels(layers), comps };
  }
  const { sels, labels } = positionAxis(set, o.positions ?? 'each');
  if (o.target === 'head_z_pos') {
    layers.forEach((l, li) => {
      for (let h = 0; h < H; h++) sels.forEach((sel, pi) => comps.push({ coord: [li, h, pi], variant: [{ hook: hookName.z(l), layer: l, head: h, positions: sel }] }));
    });
    return { axes: ['layer', 'head', 'position'], shape: [layers.length, H, sels.length], labels: { ...layerLabels(layers), position: labels }, comps };
  }
  layers.forEach((l, li) => sels.forEach((sel, pi) => comps.push({ coord: [li, pi], variant: [{ hook: hookOf(o.target, l), layer: l, positions: sel }] })));
  return { axes: ['layer', 'position'], shape: [layers.length, sels.length], labels: { ...layerLabels(layers), position: labels }, comps };
}

function layerLabels(layers: number[]): Record<string, string[]> {
  return { layer: layers.map(String) };
}

export function asSet(set: TraceSet | TraceBatch): TraceSet {
  const s = Array.isArray(set) ? set : [set];
  if (!s.length) throw new Error('trace set: expected at least one batch of prompts');
  return s;
}

export function weightedMean(values: number[], set: TraceSet): number {
  const N = set.reduce((a, b) => a + b.n, 0);
  return values.reduce((a, v, i) => a + v * set[i].n, 0) / N;
}

/** Per (row, position, head) 1 where two cached activations differ: a patch writing only equal cells is a no-op. */
function differenceMap(a: Float32Array, b: Float32Array, cells: number): Uint8Array {
  const width = a.length / cells;
  const out = new Uint8Array(cells);
  for (let c = 0; c < cells; c++) {
    for (let j = c * width, e = j + width; j < e; j++) {
      if (a[j] !== b[j]) {
        out[c] = 1;
        break;
      }
    }
  }
  return out;
}

/**
 * Runs patched variants over prepared batches (base run = clean for noising, corrupt for denoising; sources = the
 * other run's caches, which must hold every hook the variants patch). Returns each variant's patched mean LD
 * (prompt-weighted over batches). Resumable through `o.sweep`.
 */
export async function runPatchedVariants(model: GPT2, prepared: PreparedBatch[], variants: Variant[], direction: PatchDirection,
  o: BatchingOptions & { skipUnchanged?: boolean; perPrompt?: boolean; key: string }): Promise<{ values: Float64Array; stats: PatchingStats; rows?: Float32Array }> {
  const t0 = performance.now();
  const nV = variants.length;
  const H = model.config.n_head;
  const startOf = variants.map((v) => Math.min(...v.map((p) => p.layer)));
  const stats: PatchingStats = { variants: nV, passes: 0, skipped: 0, copiesPerPass: [], ms: 0 };
  const copies = prepared.map((p) => copiesFor(model, p.batch, o.memoryBudgetMB ?? DEFAULT_MEMORY_BUDGET_MB, o.maxCopies ?? DEFAULT_MAX_COPIES));
  const runs = (p: PreparedBatch) => (direction === 'noising' ? { base: p.clean, source: p.corrupt } : { base: p.corrupt, source: p.clean });
  // per prompt × variant patched LDs, when asked; only complete if every chunk is computed here (not loaded)
  const rowStart = prepared.map((_, bi) => prepared.slice(0, bi).reduce((a, p) => a + p.batch.n, 0));
  const rows = o.perPrompt ? new Float32Array(prepared.reduce((a, p) => a + p.batch.n, 0) * nV) : undefined;
  let rowItems = 0;

  const diffCache = new Map<string, Uint8Array>();
  const isNoop = (bi: number, v: Variant): boolean => {
    if (o.skipUnchanged === false) return false;
    const p = prepared[bi];
    const { base, source } = runs(p);
    return v.every((patch) => {
      const key = `${bi}|${patch.hook}`;
      let diff = diffCache.get(key);
      const bt = base.cache[patch.hook];
      if (!bt) return false;
      const heads = bt.rank === 4 ? H : 1;
      if (!diff) {
        diff = differenceMap(bt.dataSync() as Float32Array, source.cache[patch.hook].dataSync() as Float32Array, p.batch.n * p.batch.T * heads);
        diffCache.set(key, diff);
      }
      for (let b = 0; b < p.batch.n; b++) {
        for (const pos of selectedPositions(p.batch, b, patch.positions)) {
          const cell = (b * p.batch.T + pos) * heads;
          if (patch.head === undefined ? diff.subarray(cell, cell + heads).some((x) => x) : diff[cell + patch.head]) return false;
        }
      }
      return true;
    });
  };

  const perBatch = await runSweep({
    key: o.key,
    total: prepared.length * nV,
    chunkEnd: (start) => {
      const bi = Math.floor(start / nV);
      let v = start % nV;
      const limit = Math.min(nV, v + copies[bi]);
      const layer = startOf[v];
      while (v < limit && startOf[v] === layer) v++;
      return bi * nV + v;
    },
    compute: (start, end) => {
      const bi = Math.floor(start / nV);
      const p = prepared[bi];
      const { base, source } = runs(p);
      const chunk = variants.slice(start % nV, start % nV + (end - start));
      const out = new Float64Array(chunk.length).fill(mean(base.ld));
      const live = chunk.map((_, i) => i).filter((i) => !isNoop(bi, chunk[i]));
      stats.skipped += chunk.length - live.length;
      const v0 = start % nV;
      const B = p.batch.n;
      if (rows) {
        rowItems += chunk.length;
        for (let i = 0; i < chunk.length; i++) for (let b = 0; b < B; b++) rows[(rowStart[bi] + b) * nV + v0 + i] = base.ld[b];
      }
      if (!live.length) return out;
      const copiesVariants = live.map((i) => chunk[i]);
      const plans: Record<string, HookPlan[]> = {};
      for (const hook of new Set(copiesVariants.flat().map((q) => q.hook))) {
        const src = source.cache[hook];
        if (!src) throw new Error(`patching: the ${direction === 'noising' ? 'corrupt' : 'clean'} run has no cached '${hook}'`);
        plans[hook] = [{ source: src, mask: maskFor(p.batch, copiesVariants, hook, src.rank === 4 ? H : 1) }];
      }
      const layer = startOf[start % nV];
      const { ld } = tiledPass(model, { batch: p.batch, copies: live.length, residPre: base.cache[hookName.residPre(layer)], startLayer: layer, plans });
      stats.passes++;
      stats.copiesPerPass.push(live.length);
      const means = copyMeans(ld!, p.batch.n);
      live.forEach((i, k) => (out[i] = means[k]));
      if (rows) live.forEach((i, k) => { for (let b = 0; b < B; b++) rows[(rowStart[bi] + b) * nV + v0 + i] = ld![k * B + b]; });
      return out;
    },
  }, o.sweep);

  const values = new Float64Array(nV);
  for (let v = 0; v < nV; v++) values[v] = weightedMean(prepared.map((_, bi) => perBatch[bi * nV + v]), prepared.map((p) => p.batch));
  stats.ms = performance.now() - t0;
  return { values, stats, ...(rows && rowItems === prepared.length * nV ? { rows } : {}) };
}

export function ldMetric(form: 'value' | 'normalised', description: string, clean: number, corrupt: number): ScoreMetric {
  return form === 'value'
    ? { name: LOGIT_DIFF, form, description, baselines: { clean, corrupt } }
    : { name: LOGIT_DIFF, form, normalised: NORMALISED_FORMULA, description, baselines: { clean, corrupt } };
}

/** Model facts recorded with every result. */
export function modelSettings(model: GPT2): Record<string, unknown> {
  let backend: string | undefined;
  try {
    backend = activeBackend();
  } catch {
    backend = undefined;
  }
  return { model: { ...model.config }, backend };
}

export function promptSettings(set: TraceSet): Record<string, unknown> {
  return { prompts: set.reduce((a, b) => a + b.n, 0), batches: set.map((b) => ({ n: b.n, T: b.T })) };
}

/**
 * Sweep key of a method's settings, the prompts and the model (config, every LayerNorm and bias parameter: cheap and
 * changed by any fine-tuning). Batching settings and the backend are left out: they change values only by float noise.
 */
export function sweepKey(method: string, settings: Record<string, unknown>, model: GPT2, set: TraceSet): string {
  const { memoryBudgetMB, maxCopies, backend, batches, ...rest } = settings;
  void memoryBudgetMB; void maxCopies; void backend; void batches; // batching, not meaning: a resume may differ
  const small = Object.keys(model.params).filter((n) => /(ln_[12f]\.(weight|bias)|\.bias)$/.test(n)).sort();
  return fingerprint(method, JSON.stringify(rest), promptKey(set), ...small.map((n) => model.params[n].dataSync() as Float32Array));
}

/** Fingerprint of the prompts, row by row (token ids, labels, positions): the same however rows are batched. */
export function promptKey(set: TraceSet): string {
  return fingerprint(...set.flatMap((b) => Array.from({ length: b.n }, (_, r) => JSON.stringify([
    Array.from(b.clean.subarray(r * b.T, (r + 1) * b.T)), Array.from(b.corrupt.subarray(r * b.T, (r + 1) * b.T)),
    b.io[r], b.s[r], b.end[r], b.positions?.[r] ?? null,
  ]))));
}

/** Exact activation patching over a trace set. */
export async function activationPatching(model: GPT2, input: TraceSet | TraceBatch, o: ActivationPatchingOptions): Promise<PatchingResult> {
  const set = fitToBudget(model, asSet(input), o.memoryBudgetMB ?? DEFAULT_MEMORY_BUDGET_MB);
  if (!ACTIVATION_TARGETS.includes(o.target)) throw new Error(`target: expected one of ${ACTIVATION_TARGETS.join(', ')}, got '${o.target}'`);
  const direction = o.direction ?? 'noising';
  if (direction !== 'noising' && direction !== 'denoising') throw new Error(`direction: expected 'noising' or 'denoising', got '${direction}'`);
  const { axes, shape, labels, comps } = componentsFor(model, set, o);
  const hooks = new Set(comps.map((c) => c.variant[0].hook));
  const prepared = set.map((b) => prepareBatch(model, b, hooks));
  try {
    return await activationPatchingPrepared(model, prepared, { ...o, direction }, { axes, shape, labels, comps });
  } finally {
    prepared.forEach(disposePrepared);
  }
}

/** Activation patching over already-cached runs (the corrupt caches may be any source activations). */
export async function activationPatchingPrepared(model: GPT2, prepared: PreparedBatch[], o: ActivationPatchingOptions,
  plan = componentsFor(model, prepared.map((p) => p.batch), o)): Promise<PatchingResult> {
  const set = prepared.map((p) => p.batch);
  const direction = o.direction ?? 'noising';
  const clean = weightedMean(prepared.map((p) => mean(p.clean.ld)), set);
  const corrupt = weightedMean(prepared.map((p) => mean(p.corrupt.ld)), set);
  const settings = {
    target: o.target, direction, positions: o.target === 'head_z' ? 'all' : (o.positions ?? 'each'),
    layers: o.layers ?? 'all', memoryBudgetMB: o.memoryBudgetMB ?? DEFAULT_MEMORY_BUDGET_MB, maxCopies: o.maxCopies ?? DEFAULT_MAX_COPIES,
    ...promptSettings(set), ...modelSettings(model),
  };
  const key = sweepKey('activation', settings, model, set);
  const { values, stats, rows } = await runPatchedVariants(model, prepared, plan.comps.map((c) => c.variant), direction, { ...o, key });
  const patched = makeScores({
    method: `activation_patching/${o.target}`, axes: plan.axes, shape: plan.shape, labels: plan.labels,
    metric: ldMetric('value', `mean logit difference of the ${direction === 'noising' ? 'clean run with the corrupt' : 'corrupt run with the clean'} activation patched in`, clean, corrupt),
    settings: { ...settings, copiesPerPass: [...new Set(stats.copiesPerPass)] },
  });
  plan.comps.forEach((c, i) => (patched.values[flatIndex(plan.shape, c.coord)] = values[i]));
  const normalised = { ...patched, values: patched.values.map((v) => (v - corrupt) / (clean - corrupt)), metric: ldMetric('normalised', patched.metric.description!, clean, corrupt) };
  return { patched, normalised, clean, corrupt, stats, ...(rows ? { perPrompt: { components: plan.comps.length, patched: rows, clean: ldRows(prepared, 'clean'), corrupt: ldRows(prepared, 'corrupt') } } : {}) };
}

/** The unpatched run's per-prompt logit differences, in prompt order. */
export function ldRows(prepared: PreparedBatch[], which: 'clean' | 'corrupt'): Float32Array {
  return Float32Array.from(prepared.flatMap((p) => Array.from(p[which].ld)));
}

export function flatIndex(shape: number[], coord: number[]): number {
  return coord.reduce((acc, c, a) => acc * shape[a] + c, 0);
}

