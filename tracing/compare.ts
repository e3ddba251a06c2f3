// The lineage comparison (compare stage): head-score maps of the stages side by side, corruption localisation
// (clean → corrupted), behavioural and mechanistic restoration (clean / corrupted / retrained), and CMAP results.
// Pure functions over the stage-trace JSON; the types are in tracing/results.ts.
import type { ModelConfig } from '../model/config';
import { headClass } from './circuit';
import { finitePairs, pearson, spearman } from './rank';
import {
  CmapPair, ComparisonThresholds, HeadChange, HeadInfo, HeadRestoration, LineageComparison, MechanisticRestoration,
  Restoration, RESTORATION_LABELS, RestorationLabel, RESULTS_VERSION, StageDiff, StageRole, StageTrace,
  type BranchComparison, type BranchIntervals, type Interval,
} from './results';
import { Rng } from '../ioi/rng';
import { ScoresJson } from './scores';
import { DeterministicError } from '../errors/deterministic';

export const DEFAULT_THRESHOLDS: ComparisonThresholds = {
  topK: [1, 3, 5, 10],
  changedListLength: 20,
  changeFraction: 0.1,
  restoredFraction: 0.7,
  compensationFraction: 0.5,
  behaviourRestored: 0.8,
  mechanismRestored: 0.5,
};

/** Preferred primary method (the first present in every stage). */
export const PRIMARY_METHOD_ORDER = ['activation_patching/head_z', 'path_patching/logits', 'attribution_patching/head_z', 'knockout/head', 'dla/head'];

/** A head map's values as numbers (null → NaN), checked to be [layer, head]. */
export function headValues(s: ScoresJson, where: string): { values: Float64Array; nLayer: number; nHead: number } {
  if (s.axes.join(',') !== 'layer,head' || s.shape.length !== 2) throw new Error(`${where}: expected a [layer, head] map, got axes [${s.axes}] shape [${s.shape}]`);
  const [nLayer, nHead] = s.shape;
  if (s.values.length !== nLayer * nHead) throw new Error(`${where}: ${s.values.length} values for shape [${s.shape}]`);
  return { values: Float64Array.from(s.values, (v) => (v === null ? NaN : v)), nLayer, nHead };
}

export function headInfo(i: number, nHead: number, config?: ModelConfig): HeadInfo {
  const layer = Math.floor(i / nHead);
  const index = i % nHead;
  const cls = config ? headClass(config, layer, index) : undefined;
  return { head: `${layer}.${index}`, layer, index, ...(cls ? { cls } : {}) };
}

/** Pearson correlation over the cells finite in both maps. */
export function pearsonFinite(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const [xa, xb] = finitePairs(a, b);
  return xa.length < 2 ? NaN : pearson(xa, xb);
}

/** Share of Σ|Δ| held by the k largest |Δ| (NaN cells ignored; 0 when nothing changed). */
export function topKShare(delta: ArrayLike<number>, k: number): number {
  const abs = Array.from(delta, Math.abs).filter((x) => Number.isFinite(x)).sort((x, y) => y - x);
  const total = abs.reduce((s, x) => s + x, 0);
  if (total === 0) return 0;
  return abs.slice(0, k).reduce((s, x) => s + x, 0) / total;
}

/** topKShare for several k with one sort (the same numbers, summed in the same order). */
export function topKShares(delta: ArrayLike<number>, ks: readonly number[]): number[] {
  const abs = Float64Array.from(delta, Math.abs).filter(Number.isFinite).sort(); // ascending: the largest at the end
  let total = 0;
  for (let i = abs.length - 1; i >= 0; i--) total += abs[i];
  return ks.map((k) => {
    if (total === 0) return 0;
    let top = 0;
    for (let i = abs.length - 1; i >= Math.max(0, abs.length - k); i--) top += abs[i];
    return top / total;
  });
}

/** How one method's head map changed from stage `from` to stage `to`. */
export function diffMaps(
  from: { name: string; scores: ScoresJson },
  to: { name: string; scores: ScoresJson },
  method: string,
  t: ComparisonThresholds = DEFAULT_THRESHOLDS,
  config?: ModelConfig,
): StageDiff {
  const a = headValues(from.scores, `stage '${from.name}' ${method}`);
  const b = headValues(to.scores, `stage '${to.name}' ${method}`);
  if (a.nLayer !== b.nLayer || a.nHead !== b.nHead) throw new Error(`${method}: stages '${from.name}' and '${to.name}' have different map shapes`);
  const delta = b.values.map((v, i) => v - a.values[i]);
  const topShare: Record<string, number> = {};
  for (const k of t.topK) topShare[String(k)] = topKShare(delta, k);
  const order = [...delta.keys()].filter((i) => Number.isFinite(delta[i])).sort((i, j) => Math.abs(delta[j]) - Math.abs(delta[i]) || i - j);
  const changed: HeadChange[] = order.slice(0, t.changedListLength).map((i) => ({ ...headInfo(i, a.nHead, config), from: a.values[i], to: b.values[i], delta: delta[i] }));
  return {
    from: from.name,
    to: to.name,
    method,
    totalAbsDelta: delta.reduce((s, x) => (Number.isFinite(x) ? s + Math.abs(x) : s), 0),
    topShare,
    changed,
    pearson: pearsonFinite(a.values, b.values),
    spearman: spearman(a.values, b.values),
  };
}

/** (LD_retrained − LD_corrupted) / (LD_clean − LD_corrupted): the fraction of the lost logit difference regained. */
export function behaviouralRestoration(ldClean: number, ldCorrupted: number, ldRetrained: number): number {
  const gap = ldClean - ldCorrupted;
  return gap === 0 ? NaN : (ldRetrained - ldCorrupted) / gap;
}

/** Correlations of the retrained map with the clean one and the per-head labels (see RestorationLabel). */
export function mechanisticRestoration(
  method: string,
  maps: { clean: ScoresJson; corrupted: ScoresJson; retrained: ScoresJson },
  behavioural: number,
  t: ComparisonThresholds = DEFAULT_THRESHOLDS,
  config?: ModelConfig,
): MechanisticRestoration {
  const c = headValues(maps.clean, `clean ${method}`);
  const x = headValues(maps.corrupted, `corrupted ${method}`).values;
  const r = headValues(maps.retrained, `retrained ${method}`).values;
  if (x.length !== c.values.length || r.length !== c.values.length) throw new Error(`${method}: the three stages' maps differ in shape`);
  const cv = c.values;
  const scale = cv.reduce((m, v) => (Number.isFinite(v) ? Math.max(m, Math.abs(v)) : m), 0);
  const tau = t.changeFraction * scale;
  const behaviourOk = behavioural >= t.behaviourRestored;
  const heads: HeadRestoration[] = [];
  for (let i = 0; i < cv.length; i++) {
    const info = headInfo(i, c.nHead, config);
    const corruptChange = Math.abs(x[i] - cv[i]);
    const residual = Math.abs(r[i] - cv[i]);
    const recovered = corruptChange > tau ? 1 - residual / corruptChange : NaN;
    let label: RestorationLabel;
    let compensatedBy: string[] | undefined;
    if (![cv[i], x[i], r[i]].every(Number.isFinite)) label = 'unchanged';
    else if (corruptChange <= tau) label = residual <= tau ? 'unchanged' : 'recruited';
    else if (residual <= tau || recovered >= t.restoredFraction) label = 'restored';
    else {
      const missing = cv[i] - r[i]; // the clean score this head has not got back
      const contributions: { head: string; v: number }[] = [];
      for (let j = 0; j < cv.length; j++) {
        // a compensator was moved by the retraining (|r − x| > τ) to somewhere other than its clean score (|r − c| > τ)
        const change = r[j] - cv[j];
        if (j === i || !Number.isFinite(change) || Math.abs(change) <= tau || !(Math.abs(r[j] - x[j]) > tau)) continue;
        const v = Math.sign(missing) * change;
        if (v > 0) contributions.push({ head: headInfo(j, c.nHead).head, v });
      }
      const total = contributions.reduce((s, k) => s + k.v, 0);
      if (behaviourOk && total >= t.compensationFraction * Math.abs(missing)) {
        label = 'compensated';
        compensatedBy = contributions.sort((p, q) => q.v - p.v).slice(0, 5).map((k) => k.head);
      } else label = 'still_corrupted';
    }
    heads.push({ ...info, clean: cv[i], corrupted: x[i], retrained: r[i], recovered, label, ...(compensatedBy ? { compensatedBy } : {}) });
  }
  const counts = Object.fromEntries(RESTORATION_LABELS.map((l) => [l, heads.filter((h) => h.label === l).length])) as Record<RestorationLabel, number>;
  return {
    method,
    pearson: pearsonFinite(r, cv),
    spearman: spearman(r, cv),
    corruptedPearson: pearsonFinite(x, cv),
    corruptedSpearman: spearman(x, cv),
    threshold: tau,
    heads,
    counts,
  };
}

/** The stages of one corruption branch (names of traced stages). */
export interface BranchRoles {
  name: string;
  clean: string;
  corrupted: string;
  retrained: string;
  transform?: string;
  rate?: number;
}

export const BOOTSTRAP_SAMPLES = 2000;

/** Percentile 95 % interval of `stat` over prompt resamples (the same resample for every stage of a branch). */
export function bootstrapInterval(n: number, stat: (idx: Int32Array | null) => number, samples = BOOTSTRAP_SAMPLES, seed = 12345): Interval {
  return bootstrapIntervals(n, (idx) => [stat(idx)], samples, seed)[0];
}

/**
 * Percentile 95 % intervals of several statistics, all from the same resamples of the n prompts (seeded: the same
 * seed gives the same resamples, so every interval is reproducible). stat(null) is the value on all prompts.
 */
export function bootstrapIntervals(n: number, stat: (idx: Int32Array | null) => number[], samples = BOOTSTRAP_SAMPLES, seed = 12345): Interval[] {
  const point = stat(null);
  const rng = new Rng(seed);
  const values: number[][] = point.map(() => []);
  const idx = new Int32Array(n);
  for (let s = 0; s < samples; s++) {
    for (let i = 0; i < n; i++) idx[i] = rng.int(n);
    stat(idx).forEach((v, j) => {
      if (Number.isFinite(v)) values[j].push(v);
    });
  }
  return point.map((value, j) => {
    const vs = values[j].sort((a, b) => a - b);
    const q = (p: number) => (vs.length ? vs[Math.min(vs.length - 1, Math.floor(p * vs.length))] : NaN);
    return { value, lo: q(0.025), hi: q(0.975) };
  });
}

/** Mean over the resampled prompts of per-prompt maps (one row per prompt). */
function meanRowsAt(rows: readonly (readonly number[])[], idx: Int32Array): Float64Array {
  const out = new Float64Array(rows[0].length);
  for (let i = 0; i < idx.length; i++) {
    const r = rows[idx[i]];
    for (let h = 0; h < out.length; h++) out[h] += r[h] ?? NaN; // null (non-finite) cells stay NaN
  }
  for (let h = 0; h < out.length; h++) out[h] /= idx.length;
  return out;
}

const meanAt = (xs: readonly number[], idx: Int32Array | null) => {
  if (!idx) return xs.reduce((a, x) => a + x, 0) / xs.length;
  let sum = 0;
  for (let i = 0; i < idx.length; i++) sum += xs[idx[i]];
  return sum / idx.length;
};

/** Localisation, restoration, faithfulness and prompt intervals of one branch (the triple's stages are in `stages`). */
export function compareBranch(stages: StageTrace[], b: BranchRoles, primary: string, methods: string[], t: ComparisonThresholds): BranchComparison {
  const byName = (n: string) => stageByRole(stages, 'clean', n)!;
  const clean = byName(b.clean);
  const corrupted = byName(b.corrupted);
  const retrained = byName(b.retrained);
  const config = clean.model.config;
  const fraction = behaviouralRestoration(clean.metrics.logitDiff, corrupted.metrics.logitDiff, retrained.metrics.logitDiff);
  const mechanistic: Record<string, MechanisticRestoration> = {};
  for (const m of methods) mechanistic[m] = mechanisticRestoration(m, { clean: clean.headScores[m], corrupted: corrupted.headScores[m], retrained: retrained.headScores[m] }, fraction, t, config);
  const restoration: Restoration = {
    clean: clean.stage, corrupted: corrupted.stage, retrained: retrained.stage,
    behavioural: { ldClean: clean.metrics.logitDiff, ldCorrupted: corrupted.metrics.logitDiff, ldRetrained: retrained.metrics.logitDiff, fraction },
    mechanistic, primaryMethod: primary,
    behaviourRestoredMechanismNot: fraction >= t.behaviourRestored && !(mechanistic[primary].pearson >= t.mechanismRestored),
  };
  const heads = Object.fromEntries(RESTORATION_LABELS.map((l) => [l, mechanistic[primary].heads.filter((h) => h.label === l).map((h) => h.head)])) as Record<RestorationLabel, string[]>;
  const faith = (s: StageTrace) => s.circuit?.evaluation?.faithfulness.ratio;
  const out: BranchComparison = {
    name: b.name,
    ...(b.transform !== undefined ? { transform: b.transform } : {}),
    ...(b.rate !== undefined ? { rate: b.rate } : {}),
    clean: clean.stage, corrupted: corrupted.stage, retrained: retrained.stage,
    method: primary,
    localisation: diffMaps({ name: clean.stage, scores: clean.headScores[primary] }, { name: corrupted.stage, scores: corrupted.headScores[primary] }, primary, t, config),
    restoration,
    faithfulness: { ...(faith(corrupted) !== undefined ? { corrupted: faith(corrupted) } : {}), ...(faith(retrained) !== undefined ? { retrained: faith(retrained) } : {}) },
    counts: mechanistic[primary].counts,
    heads,
  };
  const intervals = branchIntervals([clean, corrupted, retrained], out, t);
  if (intervals) out.intervals = intervals;
  return out;
}

/**
 * The branch's headline numbers with prompt-bootstrap intervals, one resample of the prompts for all of them. Each
 * interval's value is the headline number itself; the ones whose per-prompt values are missing are left out.
 */
function branchIntervals(triple: StageTrace[], b: BranchComparison, t: ComparisonThresholds): BranchIntervals | undefined {
  const [lc, lx, lr] = triple.map((s) => s.metrics.logitDiffs);
  if (!(lc && lx && lr && lc.length === lx.length && lc.length === lr.length && lc.length > 1)) return undefined;
  const n = lc.length;
  const rowsOk = (rows: readonly unknown[] | undefined) => rows?.length === n;
  const maps = triple.map((s) => s.perPrompt?.headScores?.[b.method]);
  const [mc, mx, mr] = maps.every(rowsOk) ? (maps as number[][][]) : [];
  const ks = t.topK.map(String);
  const faith = triple.slice(1).map((s) => {
    const c = s.perPrompt?.circuit;
    const ratio = s.circuit?.evaluation?.faithfulness.ratio;
    return c && rowsOk(c.fModel) && rowsOk(c.fCircuit) && ratio !== undefined ? { ...c, ratio } : undefined;
  });
  const stat = (i: Int32Array | null): number[] => {
    const ld = [meanAt(lc, i), meanAt(lx, i), meanAt(lr, i)];
    const out = [...ld, behaviouralRestoration(ld[0], ld[1], ld[2])];
    if (mc) {
      if (!i) out.push(...ks.map((k) => b.localisation.topShare[k]), b.restoration.mechanistic[b.method].pearson);
      else {
        const [c, x, r] = [mc, mx, mr].map((rows) => meanRowsAt(rows, i));
        const delta = x.map((v, h) => v - c[h]);
        out.push(...topKShares(delta, t.topK), pearsonFinite(r, c));
      }
    }
    for (const f of faith) if (f) out.push(i ? meanAt(f.fCircuit, i) / meanAt(f.fModel, i) : f.ratio);
    return out;
  };
  const ivs = bootstrapIntervals(n, stat);
  const [ldClean, ldCorrupted, ldRetrained, behavioural] = ivs.splice(0, 4);
  const out: BranchIntervals = { ldClean, ldCorrupted, ldRetrained, behavioural, samples: BOOTSTRAP_SAMPLES };
  if (mc) {
    out.topShare = Object.fromEntries(ks.map((k, j) => [k, ivs[j]]));
    out.mechanistic = ivs[ks.length];
    ivs.splice(0, ks.length + 1);
  }
  if (faith.some((f) => f)) {
    out.faithfulness = {};
    if (faith[0]) out.faithfulness.corrupted = ivs.shift()!;
    if (faith[1]) out.faithfulness.retrained = ivs.shift()!;
  }
  return out;
}

export interface CompareInput {
  /** Stage traces in lineage order (same prompts and settings). */
  stages: StageTrace[];
  /** The corruption branches to compare side by side. */
  branches?: BranchRoles[];
  /** Stage names for the localisation/restoration triple; default: the first stage with that role. */
  roles?: { clean?: string; corrupted?: string; retrained?: string };
  cmap?: CmapPair[];
  thresholds?: Partial<ComparisonThresholds>;
  primaryMethod?: string;
  createdAt?: string;
}

function checkComparable(stages: StageTrace[]): void {
  const [first, ...rest] = stages;
  for (const s of rest) {
    if (s.prompts.fingerprint !== first.prompts.fingerprint) {
      throw new DeterministicError(`compare: stage '${s.stage}' was traced on different prompts than '${first.stage}' (prompt fingerprint ${s.prompts.fingerprint} vs ${first.prompts.fingerprint})`);
    }
    const a = first.model.config;
    const b = s.model.config;
    if (a.n_layer !== b.n_layer || a.n_head !== b.n_head) throw new DeterministicError(`compare: stage '${s.stage}' has ${b.n_layer}×${b.n_head} heads, '${first.stage}' has ${a.n_layer}×${a.n_head}`);
  }
}

function stageByRole(stages: StageTrace[], role: StageRole, name?: string): StageTrace | undefined {
  if (name) {
    const s = stages.find((x) => x.stage === name);
    if (!s) throw new DeterministicError(`compare: no stage named '${name}' (stages: ${stages.map((x) => x.stage).join(', ')})`);
    return s;
  }
  return stages.find((x) => x.role === role);
}

/** Builds the lineage comparison artifact from per-stage traces (and CMAP results between adjacent stages). */
export function compareStages(input: CompareInput): LineageComparison {
  const { stages } = input;
  if (stages.length === 0) throw new DeterministicError('compare: no stages');
  checkComparable(stages);
  const t: ComparisonThresholds = { ...DEFAULT_THRESHOLDS, ...input.thresholds };
  const config = stages[0].model.config;
  const methods = Object.keys(stages[0].headScores).filter((m) => stages.every((s) => s.headScores[m]));
  if (methods.length === 0) throw new DeterministicError('compare: no head-score method is present in every stage');
  const primary = input.primaryMethod ?? PRIMARY_METHOD_ORDER.find((m) => methods.includes(m)) ?? methods[0];
  if (!methods.includes(primary)) throw new DeterministicError(`compare.primaryMethod: '${primary}' is not in every stage (common methods: ${methods.join(', ')})`);

  const adjacent: StageDiff[] = [];
  for (let i = 1; i < stages.length; i++) {
    for (const m of methods) {
      adjacent.push(diffMaps({ name: stages[i - 1].stage, scores: stages[i - 1].headScores[m] }, { name: stages[i].stage, scores: stages[i].headScores[m] }, m, t, config));
    }
  }

  const clean = stageByRole(stages, 'clean', input.roles?.clean) ?? stageByRole(stages, 'base');
  const corrupted = stageByRole(stages, 'corrupted', input.roles?.corrupted);
  const retrained = stageByRole(stages, 'retrained', input.roles?.retrained);

  let localisation: LineageComparison['localisation'];
  if (clean && corrupted) {
    const byMethod: Record<string, StageDiff> = {};
    for (const m of methods) byMethod[m] = diffMaps({ name: clean.stage, scores: clean.headScores[m] }, { name: corrupted.stage, scores: corrupted.headScores[m] }, m, t, config);
    localisation = { from: clean.stage, to: corrupted.stage, byMethod };
  }

  let restoration: Restoration | undefined;
  if (clean && corrupted && retrained) {
    const fraction = behaviouralRestoration(clean.metrics.logitDiff, corrupted.metrics.logitDiff, retrained.metrics.logitDiff);
    const mechanistic: Record<string, MechanisticRestoration> = {};
    for (const m of methods) {
      mechanistic[m] = mechanisticRestoration(m, { clean: clean.headScores[m], corrupted: corrupted.headScores[m], retrained: retrained.headScores[m] }, fraction, t, config);
    }
    restoration = {
      clean: clean.stage,
      corrupted: corrupted.stage,
      retrained: retrained.stage,
      behavioural: { ldClean: clean.metrics.logitDiff, ldCorrupted: corrupted.metrics.logitDiff, ldRetrained: retrained.metrics.logitDiff, fraction },
      mechanistic,
      primaryMethod: primary,
      behaviourRestoredMechanismNot: fraction >= t.behaviourRestored && !(mechanistic[primary].pearson >= t.mechanismRestored),
    };
  }

  return {
    schema: 'plasticity.lineage-comparison',
    version: RESULTS_VERSION,
    stages: stages.map((s) => ({ name: s.stage, role: s.role, metrics: s.metrics, headScores: s.headScores })),
    methods,
    primaryMethod: primary,
    adjacent,
    localisation,
    restoration,
    ...(input.branches ? { branches: input.branches.map((b) => compareBranch(stages, b, primary, methods, t)) } : {}),
    cmap: input.cmap ?? [],
    thresholds: t,
    createdAt: input.createdAt ?? new Date().toISOString(),
  };
}
