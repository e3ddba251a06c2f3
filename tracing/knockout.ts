// Knockout: ablate attention heads' outputs z (before W_O) and measure the mean logit difference (ioi-paper §3.4, §6.2).
// Mean ablation uses the mean of z over the reference (p_ABC) prompts per template, per position (Wang et al.).
import { tf } from '../model/engine';
import { GPT2 } from '../model/gpt2';
import { hookName } from '../model/hook-names';
import { Rng } from '../ioi/rng';
import { TraceBatch, TraceSet, totalPrompts } from './batch';
import {
  DEFAULT_MEMORY_BUDGET_MB, HookPlan, ItemProgress, PassOptions, PreparedBatch, disposePrepared, fitToBudget, meanOver, prepareBatch, runVariants,
} from './batched';
import { allHeads, checkHead, HeadRef, PositionSpec, rowPositions } from './heads';
import { makeScores, Scores } from './scores';

export type Ablation = 'mean' | 'zero' | 'resample';
export const ABLATIONS: readonly Ablation[] = ['mean', 'zero', 'resample'];

/** A head at some positions (default every position). */
export interface HeadSelection extends HeadRef {
  positions?: PositionSpec;
}

/**
 * `ablate`: these (head, positions) are ablated, everything else runs normally (the model M \ H).
 * `keep`: every head at every position is ablated except these (a circuit's F(C)).
 */
export type KnockoutSpec = { ablate: readonly HeadSelection[] } | { keep: readonly HeadSelection[] };

export interface KnockoutOptions extends PassOptions {
  ablation?: Ablation; // default 'mean'
  /** Precomputed means (computeAblationMeans), e.g. from a larger ABC set; default: the set's own corrupt prompts. */
  means?: AblationMeans;
  /** For resample ablation: seed of the choice of the replacement prompt (default 0). */
  seed?: number;
  /** During a meanLD call: spec evaluations (specs × prompt batches) done of all, after every pass. */
  onProgress?: ItemProgress;
  /**
   * The set's clean and corrupt runs already cached (every resid_pre; every z of the ablation source for mean and
   * resample ablation), e.g. shared by a trace stage; the caller keeps ownership. `set` is then these batches.
   */
  prepared?: PreparedBatch[];
}

/** Per-group mean of z: one [T, H, D] tensor per layer, for each (template, length, positions) group. */
export interface AblationMeans {
  groups: Map<string, { count: number; perLayer: tf.Tensor[] }>;
  /** 'corrupt' (p_ABC, the default) or 'clean' prompts of the set the means came from. */
  source: 'corrupt' | 'clean';
  dispose(): void;
}

/**
 * The group a prompt's mean is taken over: its template id, sequence length and named positions. Without
 * template ids, all prompts of one length (and positions) form one group.
 */
export function ablationGroupKey(batch: TraceBatch, b: number): string {
  const t = batch.template ? `t${batch.template[b]}` : 't*';
  const p = batch.positions?.[b];
  const pos = p ? `/p${p.IO},${p.S1},${p.S2},${p.END}` : `/e${batch.end[b]}`;
  return `${t}/T${batch.T}${pos}`;
}

function groupRows(batch: TraceBatch): Map<string, number[]> {
  const groups = new Map<string, number[]>();
  for (let b = 0; b < batch.n; b++) {
    const key = ablationGroupKey(batch, b);
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key)!.push(b);
  }
  return groups;
}

const zNames = (nLayer: number) => [...Array(nLayer).keys()].map((l) => hookName.z(l));

/** Means of every head's z over the set's corrupt (default) or clean prompts, per template group and position. */
export async function computeAblationMeans(model: GPT2, set: TraceSet, source: 'corrupt' | 'clean' = 'corrupt'): Promise<AblationMeans> {
  const L = model.config.n_layer;
  const prepared: PreparedBatch[] = [];
  try {
    for (const b of set) prepared.push(prepareBatch(model, b, zNames(L)));
    return ablationMeansOf(prepared, source, L);
  } finally {
    prepared.forEach(disposePrepared);
  }
}

/** computeAblationMeans from cached runs (their `source` caches must hold every layer's z at every position). */
export function ablationMeansOf(prepared: readonly PreparedBatch[], source: 'corrupt' | 'clean', L: number): AblationMeans {
  const sums = new Map<string, { count: number; perLayer: tf.Tensor[] }>();
  for (const p of prepared) {
    const cache = p[source].cache;
    for (const [key, rows] of groupRows(p.batch)) {
      const idx = tf.tensor1d(rows, 'int32');
      const perLayer = [...Array(L).keys()].map((l) => tf.tidy(() => tf.sum(tf.gather(zOf(cache, l), idx), 0)));
      idx.dispose();
      const prev = sums.get(key);
      if (!prev) sums.set(key, { count: rows.length, perLayer });
      else {
        prev.perLayer = prev.perLayer.map((s, l) => {
          const next = tf.add(s, perLayer[l]);
          s.dispose();
          perLayer[l].dispose();
          return next;
        });
        prev.count += rows.length;
      }
    }
  }
  for (const g of sums.values()) {
    g.perLayer = g.perLayer.map((s) => {
      const m = tf.div(s, g.count);
      s.dispose();
      return m;
    });
  }
  return {
    groups: sums,
    source,
    dispose: () => {
      for (const g of sums.values()) g.perLayer.forEach((t) => t.dispose());
      sums.clear();
    },
  };
}

function zOf(cache: Record<string, tf.Tensor>, l: number): tf.Tensor {
  const z = cache[hookName.z(l)];
  if (!z || z.shape[1] === 1) throw new Error(`knockout: the cached run has no full-length '${hookName.z(l)}' (needed for mean/resample ablation)`);
  return z;
}

/** One batch's cached runs and the replacement values. */
interface BatchState {
  prepared: PreparedBatch;
  /** Replacement z per layer, [B, T, H, D] (zeros for zero ablation). */
  replacement: tf.Tensor[];
}

/** Ablation machinery for one model and trace set: evaluates many knockout specs, batched. Call dispose(). */
export class Knockout {
  readonly ablation: Ablation;
  private constructor(
    readonly model: GPT2,
    readonly set: TraceSet,
    private readonly states: BatchState[],
    private readonly opts: KnockoutOptions,
    private readonly owned: { means?: AblationMeans; prepared?: PreparedBatch[] },
  ) {
    this.ablation = opts.ablation ?? 'mean';
  }

  static async create(model: GPT2, input: TraceSet, opts: KnockoutOptions = {}): Promise<Knockout> {
    const ablation = opts.ablation ?? 'mean';
    if (!ABLATIONS.includes(ablation)) throw new Error(`knockout.ablation: expected one of ${ABLATIONS.join(', ')}, got ${JSON.stringify(ablation)}`);
    if ((opts.prepared ? opts.prepared.length : totalPrompts(input)) === 0) throw new Error('knockout: the trace set has no prompts');
    const L = model.config.n_layer;
    const ownPrepared = opts.prepared
      ? undefined
      : fitToBudget(model, input, opts.memoryBudgetMB ?? DEFAULT_MEMORY_BUDGET_MB).map((b) => prepareBatch(model, b, ablation === 'zero' ? [] : zNames(L)));
    const prepared = opts.prepared ?? ownPrepared!;
    const set = prepared.map((p) => p.batch);
    const ownMeans = ablation === 'mean' && !opts.means ? ablationMeansOf(prepared, 'corrupt', L) : undefined;
    const means = opts.means ?? ownMeans;
    const rng = new Rng(opts.seed ?? 0);
    const states: BatchState[] = prepared.map((p) => {
      const { n: B, T } = p.batch;
      const { n_head: H, d_head: D } = model.config;
      let replacement: tf.Tensor[];
      if (ablation === 'mean') replacement = meanReplacement(p.batch, means!, L);
      else if (ablation === 'resample') replacement = resampleReplacement(p, rng, L);
      else {
        const zeros = tf.zeros([B, T, H, D]);
        replacement = Array(L).fill(zeros);
      }
      return { prepared: p, replacement };
    });
    return new Knockout(model, set, states, { ...opts, ablation }, { means: ownMeans, prepared: ownPrepared });
  }

  /** F(M): mean logit difference of the unablated model. */
  fullModel(): number {
    return meanOver(this.states.map((s) => s.prepared.clean.ld));
  }

  /** Mean logit difference over the set for each spec (several specs per forward pass). */
  async meanLD(specs: readonly KnockoutSpec[]): Promise<number[]> {
    return (await this.batchLDs(specs)).map((arrs) => meanOver(arrs));
  }

  /** Each prompt's logit difference (prompt order) for each spec. */
  async promptLDs(specs: readonly KnockoutSpec[]): Promise<Float32Array[]> {
    return (await this.batchLDs(specs)).map((arrs) => Float32Array.from(arrs.flatMap((a) => Array.from(a))));
  }

  /** F(M) per prompt (prompt order). */
  fullModelPrompts(): Float32Array {
    return Float32Array.from(this.states.flatMap((s) => Array.from(s.prepared.clean.ld)));
  }

  /** Per spec, per batch: the batch's per-prompt logit differences. */
  private async batchLDs(specs: readonly KnockoutSpec[]): Promise<Float32Array[][]> {
    const perSpec: Float32Array[][] = specs.map(() => []);
    const L = this.model.config.n_layer;
    const total = specs.length * this.states.length;
    let done = 0;
    for (const st of this.states) {
      const { batch, clean } = st.prepared;
      const resolved = specs.map((s) => resolveSpec(this.model, batch, s));
      const active = resolved.map((_, i) => i).filter((i) => resolved[i].startLayer < L);
      for (const i of resolved.keys()) if (!active.includes(i)) perSpec[i].push(clean.ld);
      done += specs.length - active.length;
      if (!active.length) continue;
      const base = done;
      const lds = runVariants(this.model, batch, {
        count: active.length,
        startLayerOf: (v) => resolved[active[v]].startLayer,
        residPreAt: (l) => clean.cache[hookName.residPre(l)],
        plansFor: (variants) => this.plans(st, variants.map((v) => resolved[active[v]])),
        maxRowsPerPass: this.opts.maxRowsPerPass,
        memoryBudgetMB: this.opts.memoryBudgetMB,
        maxCopies: this.opts.maxCopies,
        onPass: (d) => this.opts.onProgress?.(base + d, total),
      });
      done += active.length;
      active.forEach((i, v) => perSpec[i].push(lds[v]));
      await new Promise<void>((r) => setImmediate(r)); // let a heartbeat or cancel through between batches
    }
    return perSpec;
  }

  /** Per layer: z ← replacement where a copy's spec ablates (row, position, head), else its own value. */
  private plans(st: BatchState, variants: ResolvedSpec[]): Record<string, HookPlan[]> {
    const c = this.model.config;
    const { n: B, T } = st.prepared.batch;
    const H = c.n_head;
    const plans: Record<string, HookPlan[]> = {};
    const cells = B * T * H;
    for (let l = 0; l < c.n_layer; l++) {
      if (variants.every((v) => !v.keepMask[l])) continue;
      const ablate = new Float32Array(variants.length * cells);
      variants.forEach((v, j) => {
        const keep = v.keepMask[l];
        if (keep) for (let i = 0; i < cells; i++) ablate[j * cells + i] = 1 - keep[i];
      });
      plans[hookName.z(l)] = [{ source: st.replacement[l], mask: ablate }];
    }
    return plans;
  }

  dispose(): void {
    for (const st of this.states) tf.dispose([...new Set(st.replacement)]);
    this.owned.means?.dispose();
    this.owned.prepared?.forEach(disposePrepared);
  }
}

interface ResolvedSpec {
  startLayer: number; // n_layer when the spec changes nothing
  keepMask: (Float32Array | undefined)[]; // per layer [B*T*H], 1 = keep; undefined = every head kept
}

/** Expands a spec into per-layer keep masks for one batch. */
function resolveSpec(model: GPT2, batch: TraceBatch, spec: KnockoutSpec): ResolvedSpec {
  const c = model.config;
  const { n: B, T } = batch;
  const H = c.n_head;
  const isKeep = 'keep' in spec;
  const list = isKeep ? spec.keep : (spec as { ablate: readonly HeadSelection[] }).ablate;
  if (!Array.isArray(list)) throw new Error(`knockout spec: expected { ablate: [...] } or { keep: [...] }, got ${JSON.stringify(spec)}`);
  const keepMask: (Float32Array | undefined)[] = new Array(c.n_layer).fill(undefined);
  if (isKeep) for (let l = 0; l < c.n_layer; l++) keepMask[l] = new Float32Array(B * T * H);
  for (const sel of list) {
    checkHead(c, sel, `knockout ${isKeep ? 'keep' : 'ablate'} head ${sel.layer}.${sel.head}`);
    const m = (keepMask[sel.layer] ??= new Float32Array(B * T * H).fill(1));
    for (let b = 0; b < B; b++) {
      for (const p of rowPositions(batch, b, sel.positions ?? 'all')) m[(b * T + p) * H + sel.head] = isKeep ? 1 : 0;
    }
  }
  if (isKeep) {
    for (let l = 0; l < c.n_layer; l++) if (keepMask[l]!.every((x) => x === 1)) keepMask[l] = undefined;
  }
  const first = keepMask.findIndex((m) => m !== undefined);
  return { startLayer: first < 0 ? c.n_layer : first, keepMask };
}

/** Each row's group mean, per layer [B, T, H, D]. */
function meanReplacement(batch: TraceBatch, means: AblationMeans, L: number): tf.Tensor[] {
  const keys = [...Array(batch.n).keys()].map((b) => ablationGroupKey(batch, b));
  for (const key of new Set(keys)) {
    if (!means.groups.has(key)) {
      throw new Error(`knockout means: no mean for group '${key}' (template/length/positions of an evaluated prompt); the means set has ${[...means.groups.keys()].slice(0, 5).join(', ')}`);
    }
  }
  return [...Array(L).keys()].map((l) => tf.tidy(() => tf.stack(keys.map((k) => means.groups.get(k)!.perLayer[l]))));
}

/** Each row's z replaced by the corrupt-run z of a random other prompt of its group (itself if alone). */
function resampleReplacement(p: PreparedBatch, rng: Rng, L: number): tf.Tensor[] {
  const batch = p.batch;
  const src = new Int32Array(batch.n);
  for (const rows of groupRows(batch).values()) {
    rows.forEach((b) => {
      if (rows.length === 1) src[b] = b;
      else {
        let r = rows[rng.int(rows.length)];
        while (r === b) r = rows[rng.int(rows.length)];
        src[b] = r;
      }
    });
  }
  const idx = tf.tensor1d(src, 'int32');
  const out = [...Array(L).keys()].map((l) => tf.gather(zOf(p.corrupt.cache, l), idx));
  idx.dispose();
  return out;
}

/** Mean logit difference of the model with a knockout applied. */
export async function knockout(model: GPT2, set: TraceSet, spec: KnockoutSpec, opts: KnockoutOptions = {}): Promise<number> {
  const ko = await Knockout.create(model, set, opts);
  try {
    return (await ko.meanLD([spec]))[0];
  } finally {
    ko.dispose();
  }
}

/** Single-head knockout sweep: ΔF = F(M \ {h}) − F(M) per head (all positions), as Scores [layer, head]. */
export async function knockoutSweep(model: GPT2, set: TraceSet, opts: KnockoutOptions = {}, ko?: Knockout): Promise<Scores> {
  const own = ko ?? (await Knockout.create(model, set, opts));
  try {
    const heads = allHeads(model.config);
    const fm = own.fullModel();
    const vals = await own.meanLD(heads.map((h) => ({ ablate: [h] })));
    const c = model.config;
    return makeScores({
      method: 'knockout/head',
      axes: ['layer', 'head'],
      shape: [c.n_layer, c.n_head],
      values: Float32Array.from(vals, (v) => v - fm),
      metric: {
        name: 'logit_diff',
        form: 'delta',
        description: `${own.ablation}-ablate one head's z at all positions: F(M \\ {h}) − F(M)`,
        baselines: { model: fm },
      },
      settings: { ablation: own.ablation, positions: 'all', prompts: totalPrompts(set), means: own.ablation === 'mean' ? (opts.means?.source ?? 'corrupt') : undefined, seed: own.ablation === 'resample' ? (opts.seed ?? 0) : undefined },
    });
  } finally {
    if (!ko) own.dispose();
  }
}
