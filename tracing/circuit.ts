// Circuit evaluation by knockout (ioi-paper §3.5–3.7, §6.2): F(C), faithfulness, completeness, minimality;
// Wang et al.'s GPT-2-small head classes; and a simple score-ranked circuit discovery for small models.
import { ModelConfig } from '../model/config';
import { Rng } from '../ioi/rng';
import { checkHead, HeadRef, headLabel, parseHead, PositionLabel, PositionSpec } from './heads';
import { HeadSelection, Knockout } from './knockout';
import { scoreAt, Scores } from './scores';

export type HeadClass =
  | 'name_mover'
  | 'backup_name_mover'
  | 'negative_name_mover'
  | 's_inhibition'
  | 'induction'
  | 'duplicate_token'
  | 'previous_token';

/** Wang et al.'s 26-head IOI circuit in GPT-2 small (ioi-paper §7), by class, in Wang's listing order. */
export const GPT2_SMALL_HEAD_CLASSES: Readonly<Record<HeadClass, readonly string[]>> = {
  name_mover: ['9.9', '9.6', '10.0'],
  backup_name_mover: ['10.10', '10.6', '10.2', '10.1', '11.2', '9.7', '9.0', '11.9'],
  negative_name_mover: ['10.7', '11.10'],
  s_inhibition: ['7.3', '7.9', '8.6', '8.10'],
  induction: ['5.5', '5.8', '5.9', '6.9'],
  duplicate_token: ['0.1', '0.10', '3.0'],
  previous_token: ['2.2', '4.11'],
};

/** The position each class is kept at in F(C) (Wang / ARENA SEQ_POS_TO_KEEP). */
export const HEAD_CLASS_POSITIONS: Readonly<Record<HeadClass, readonly PositionLabel[]>> = {
  name_mover: ['END'],
  backup_name_mover: ['END'],
  negative_name_mover: ['END'],
  s_inhibition: ['END'],
  induction: ['S2'],
  duplicate_token: ['S2'],
  previous_token: ['S1p1'],
};

/** True for GPT-2 small's shape (12 layers × 12 heads, d_model 768, d_head 64), whatever the weights or vocabulary. */
export function isGpt2SmallShaped(c: Pick<ModelConfig, 'n_layer' | 'n_head' | 'd_model' | 'd_head'>): boolean {
  return c.n_layer === 12 && c.n_head === 12 && c.d_model === 768 && c.d_head === 64;
}

const CLASS_OF = new Map<string, HeadClass>(
  Object.entries(GPT2_SMALL_HEAD_CLASSES).flatMap(([cls, heads]) => heads.map((h) => [h, cls as HeadClass] as [string, HeadClass])),
);

/** Wang's class of a head, only for GPT-2-small-shaped models (undefined otherwise or for heads outside the circuit). */
export function headClass(c: Pick<ModelConfig, 'n_layer' | 'n_head' | 'd_model' | 'd_head'>, layer: number, head: number): HeadClass | undefined {
  return isGpt2SmallShaped(c) ? CLASS_OF.get(`${layer}.${head}`) : undefined;
}

/** A circuit: heads with the positions they are kept at (MLPs, embeddings and LayerNorms are always kept). */
export interface CircuitHead extends HeadRef {
  positions: PositionSpec;
  cls?: string;
}

export interface Circuit {
  name: string;
  heads: CircuitHead[];
}

/** Wang et al.'s circuit with each class at its designated position. */
export function wangCircuit(): Circuit {
  const heads: CircuitHead[] = [];
  for (const [cls, list] of Object.entries(GPT2_SMALL_HEAD_CLASSES) as [HeadClass, readonly string[]][]) {
    for (const h of list) heads.push({ ...parseHead(h), positions: HEAD_CLASS_POSITIONS[cls], cls });
  }
  return { name: 'wang2022-gpt2-small', heads };
}

const sameHead = (a: HeadRef, b: HeadRef) => a.layer === b.layer && a.head === b.head;

function checkCircuit(c: ModelConfig, circuit: Circuit): void {
  circuit.heads.forEach((h, i) => checkHead(c, h, `circuit '${circuit.name}' heads[${i}]`));
}

/** F(C \ K): every head outside C \ K is ablated, and circuit heads at positions other than their own. */
export async function circuitPerformance(ko: Knockout, circuit: Circuit, without: readonly HeadRef[] = []): Promise<number> {
  checkCircuit(ko.model.config, circuit);
  return (await ko.meanLD([circuitSpec(circuit, without)]))[0];
}

function circuitSpec(circuit: Circuit, without: readonly HeadRef[]): { keep: HeadSelection[] } {
  return { keep: circuit.heads.filter((h) => !without.some((k) => sameHead(h, k))).map((h) => ({ layer: h.layer, head: h.head, positions: h.positions })) };
}

/** M \ K: the heads in K are ablated at every position. */
function modelWithoutSpec(without: readonly HeadRef[]): { ablate: HeadSelection[] } {
  return { ablate: without.map((h) => ({ layer: h.layer, head: h.head })) };
}

export interface Faithfulness {
  fModel: number; // F(M)
  fCircuit: number; // F(C)
  ratio: number; // F(C) / F(M) (this paper's percentage, most likely)
  wang: number; // 1 − |F(M) − F(C)| / |F(M)| (Wang et al.)
  gap: number; // |F(M) − F(C)|
}

export function faithfulnessFrom(fModel: number, fCircuit: number): Faithfulness {
  const gap = Math.abs(fModel - fCircuit);
  return { fModel, fCircuit, ratio: fCircuit / fModel, wang: 1 - gap / Math.abs(fModel), gap };
}

export async function faithfulness(ko: Knockout, circuit: Circuit): Promise<Faithfulness> {
  return faithfulnessFrom(ko.fullModel(), await circuitPerformance(ko, circuit));
}

/** F(M) and F(C) of each prompt (prompt order): what a bootstrap of the faithfulness resamples. */
export async function faithfulnessPerPrompt(ko: Knockout, circuit: Circuit): Promise<{ fModel: Float32Array; fCircuit: Float32Array }> {
  checkCircuit(ko.model.config, circuit);
  return { fModel: ko.fullModelPrompts(), fCircuit: (await ko.promptLDs([circuitSpec(circuit, [])]))[0] };
}

export interface CompletenessSample {
  kind: 'random' | 'class';
  K: string[]; // head labels "L.H"
  fCircuitMinusK: number; // F(C \ K)
  fModelMinusK: number; // F(M \ K)
  incompleteness: number; // |F(C \ K) − F(M \ K)|
}

export interface Completeness {
  samples: CompletenessSample[];
  max: number;
  mean: number;
  /** max / |F(M)| */
  maxRelative: number;
  settings: { randomSamples: number; inclusionProbability: number; seed: number; classSets: boolean };
}

export interface CompletenessOptions {
  samples?: number; // random subsets (default 20)
  seed?: number; // default 0
  /** Also use each head class present in the circuit as one K (default true). */
  classSets?: boolean;
}

/** Incompleteness |F(C\K) − F(M\K)| on random subsets K (each circuit head in K with probability 1/2) and whole classes. */
export async function completeness(ko: Knockout, circuit: Circuit, opts: CompletenessOptions = {}): Promise<Completeness> {
  checkCircuit(ko.model.config, circuit);
  const nRandom = opts.samples ?? 20;
  const seed = opts.seed ?? 0;
  const classSets = opts.classSets ?? true;
  const rng = new Rng(seed);
  const sets: { kind: 'random' | 'class'; K: HeadRef[] }[] = [];
  for (let i = 0; i < nRandom; i++) sets.push({ kind: 'random', K: circuit.heads.filter(() => rng.float() < 0.5) });
  if (classSets) {
    const classes = [...new Set(circuit.heads.map((h) => h.cls).filter((c): c is string => !!c))];
    for (const cls of classes) sets.push({ kind: 'class', K: circuit.heads.filter((h) => h.cls === cls) });
  }
  const specs = sets.flatMap((s) => [circuitSpec(circuit, s.K), modelWithoutSpec(s.K)]);
  const vals = await ko.meanLD(specs);
  const samples = sets.map((s, i): CompletenessSample => {
    const fc = vals[2 * i];
    const fm = vals[2 * i + 1];
    return { kind: s.kind, K: s.K.map(headLabel), fCircuitMinusK: fc, fModelMinusK: fm, incompleteness: Math.abs(fc - fm) };
  });
  const inc = samples.map((s) => s.incompleteness);
  const max = inc.length ? Math.max(...inc) : 0;
  return {
    samples,
    max,
    mean: inc.length ? inc.reduce((a, b) => a + b, 0) / inc.length : 0,
    maxRelative: max / Math.abs(ko.fullModel()),
    settings: { randomSamples: nRandom, inclusionProbability: 0.5, seed, classSets },
  };
}

/**
 * How K is chosen for m(v; K):
 * 'empty' — K = ∅; 'classmates' — the other circuit heads of v's class (∅ without a class);
 * 'wang' — Wang et al.'s App. K sets for his 26 heads (nested name movers; NNMs for 5.8/5.9; earlier NMs and
 * backups for backup NMs; class-mates for S-inhibition, duplicate and previous-token heads; ∅ for the rest);
 * heads outside Wang's list fall back to 'classmates'.
 */
export type MinimalityK = 'empty' | 'classmates' | 'wang';

export interface MinimalityNode {
  head: string;
  cls?: string;
  K: string[];
  fWithoutK: number; // F(C \ K)
  fWithoutKAndV: number; // F(C \ (K ∪ {v}))
  m: number; // |difference|
  pass: boolean; // m ≥ threshold
}

export interface Minimality {
  k: MinimalityK;
  thresholdFraction: number;
  threshold: number; // thresholdFraction × |F(M)|
  nodes: MinimalityNode[];
  passed: number;
}

export interface MinimalityOptions {
  k?: MinimalityK; // default 'classmates'
  thresholdFraction?: number; // default 0.01 (Wang: 1% of F(M))
}

export function minimalityK(circuit: Circuit, v: CircuitHead, mode: MinimalityK): HeadRef[] {
  const inCircuit = (labels: readonly string[]) => circuit.heads.filter((h) => labels.includes(headLabel(h)) && !sameHead(h, v));
  const classmates = () => (v.cls ? circuit.heads.filter((h) => h.cls === v.cls && !sameHead(h, v)) : []);
  if (mode === 'empty') return [];
  if (mode === 'classmates') return classmates();
  const label = headLabel(v);
  const C = GPT2_SMALL_HEAD_CLASSES;
  const wangClass = CLASS_OF.get(label);
  if (!wangClass || (v.cls && v.cls !== wangClass)) return classmates();
  switch (wangClass) {
    case 'name_mover':
      return inCircuit(nestedNameMovers(label));
    case 'backup_name_mover':
      return inCircuit([...C.name_mover, ...C.backup_name_mover.slice(0, C.backup_name_mover.indexOf(label))]);
    case 'induction':
      return label === '5.8' || label === '5.9' ? inCircuit(C.negative_name_mover) : [];
    case 's_inhibition':
    case 'duplicate_token':
    case 'previous_token':
      return inCircuit(C[wangClass]);
    default:
      return [];
  }
}

/** Wang's nesting: 9.9 with ∅, 10.0 with {9.9}, 9.6 with {9.9, 10.0}. */
function nestedNameMovers(label: string): string[] {
  const order = ['9.9', '10.0', '9.6'];
  return order.slice(0, order.indexOf(label));
}

/** m(v; K) = |F(C \ (K ∪ {v})) − F(C \ K)| for every circuit head v. */
export async function minimality(ko: Knockout, circuit: Circuit, opts: MinimalityOptions = {}): Promise<Minimality> {
  checkCircuit(ko.model.config, circuit);
  const mode = opts.k ?? 'classmates';
  const frac = opts.thresholdFraction ?? 0.01;
  const Ks = circuit.heads.map((v) => minimalityK(circuit, v, mode));
  const specs = circuit.heads.flatMap((v, i) => [circuitSpec(circuit, Ks[i]), circuitSpec(circuit, [...Ks[i], v])]);
  const vals = await ko.meanLD(specs);
  const threshold = frac * Math.abs(ko.fullModel());
  const nodes = circuit.heads.map((v, i): MinimalityNode => {
    const m = Math.abs(vals[2 * i + 1] - vals[2 * i]);
    return { head: headLabel(v), cls: v.cls, K: Ks[i].map(headLabel), fWithoutK: vals[2 * i], fWithoutKAndV: vals[2 * i + 1], m, pass: m >= threshold };
  });
  return { k: mode, thresholdFraction: frac, threshold, nodes, passed: nodes.filter((n) => n.pass).length };
}

export interface CircuitJson {
  name: string;
  heads: { head: string; positions: PositionSpec; cls?: string }[];
}

export function circuitToJson(c: Circuit): CircuitJson {
  return { name: c.name, heads: c.heads.map((h) => ({ head: headLabel(h), positions: h.positions, cls: h.cls })) };
}

export interface CircuitEvaluation {
  circuit: CircuitJson;
  ablation: string;
  faithfulness: Faithfulness;
  completeness?: Completeness;
  minimality?: Minimality;
}

export interface EvaluateCircuitOptions {
  completeness?: CompletenessOptions | false;
  minimality?: MinimalityOptions | false;
}

/** Faithfulness, and (unless disabled) completeness and minimality, of one circuit. */
export async function evaluateCircuit(ko: Knockout, circuit: Circuit, opts: EvaluateCircuitOptions = {}): Promise<CircuitEvaluation> {
  const out: CircuitEvaluation = { circuit: circuitToJson(circuit), ablation: ko.ablation, faithfulness: await faithfulness(ko, circuit) };
  if (opts.completeness !== false) out.completeness = await completeness(ko, circuit, opts.completeness ?? {});
  if (opts.minimality !== false) out.minimality = await minimality(ko, circuit, opts.minimality ?? {});
  return out;
}

export interface DiscoveryOptions {
  /** Stop at the first circuit with F(C)/F(M) ≥ targetFraction (default 0.8). */
  targetFraction?: number;
  maxHeads?: number; // default all heads
  positions?: PositionSpec; // where discovered heads are kept (default 'all')
  /** Prefix sizes evaluated per batched call (default 8). */
  chunk?: number;
}

export interface Discovery {
  circuit: Circuit;
  reached: boolean;
  targetFraction: number;
  fModel: number;
  fCircuit: number;
  ratio: number;
  /** F(C) of each evaluated prefix of the ranking. */
  trajectory: { size: number; added: string; score: number; fCircuit: number; ratio: number }[];
  rankedBy: string; // the method of the scores used
}

/**
 * Greedy discovery: add heads in order of |score| (a [layer, head] map from activation or path patching) until
 * the circuit's F(C) reaches targetFraction of F(M). Returns the shortest such prefix (or the best if never reached).
 */
export async function discoverCircuit(ko: Knockout, scores: Scores, opts: DiscoveryOptions = {}): Promise<Discovery> {
  const c = ko.model.config;
  if (scores.axes.join(',') !== 'layer,head' || scores.shape[0] !== c.n_layer || scores.shape[1] !== c.n_head) {
    throw new Error(`discoverCircuit: scores '${scores.method}' must have axes [layer, head] and shape [${c.n_layer}, ${c.n_head}], got [${scores.axes}] [${scores.shape}]`);
  }
  const target = opts.targetFraction ?? 0.8;
  const positions = opts.positions ?? 'all';
  const ranked: (HeadRef & { score: number })[] = [];
  for (let layer = 0; layer < c.n_layer; layer++) {
    for (let head = 0; head < c.n_head; head++) {
      const s = scoreAt(scores, layer, head);
      if (!Number.isNaN(s)) ranked.push({ layer, head, score: s });
    }
  }
  ranked.sort((a, b) => Math.abs(b.score) - Math.abs(a.score) || a.layer - b.layer || a.head - b.head);
  const maxHeads = Math.min(opts.maxHeads ?? ranked.length, ranked.length);
  const chunk = Math.max(1, opts.chunk ?? 8);
  const fm = ko.fullModel();
  const gpt2 = isGpt2SmallShaped(c);
  const prefix = (n: number): Circuit => ({
    name: `top-${n}-by-${scores.method}`,
    heads: ranked.slice(0, n).map((h) => ({ layer: h.layer, head: h.head, positions, cls: gpt2 ? headClass(c, h.layer, h.head) : undefined })),
  });
  const trajectory: Discovery['trajectory'] = [];
  let found = -1;
  for (let start = 1; start <= maxHeads && found < 0; start += chunk) {
    const sizes = [...Array(Math.min(chunk, maxHeads - start + 1)).keys()].map((i) => start + i);
    const vals = await ko.meanLD(sizes.map((n) => circuitSpec(prefix(n), [])));
    sizes.forEach((n, i) => {
      trajectory.push({ size: n, added: headLabel(ranked[n - 1]), score: ranked[n - 1].score, fCircuit: vals[i], ratio: vals[i] / fm });
      if (found < 0 && vals[i] / fm >= target) found = n;
    });
  }
  const best = found > 0 ? found : trajectory.reduce((a, t) => (t.ratio > a.ratio ? t : a), trajectory[0] ?? { size: 0, ratio: NaN }).size;
  const fCircuit = best > 0 ? trajectory[best - 1].fCircuit : NaN;
  return { circuit: prefix(best), reached: found > 0, targetFraction: target, fModel: fm, fCircuit, ratio: fCircuit / fm, trajectory, rankedBy: scores.method };
}
