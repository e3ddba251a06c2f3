// A synthetic but realistically shaped lineage in a local artifact store, for the report tests: a 3-layer × 4-head
// model; base → finetune (epochs 1, 2, 5) → corrupt → retrain; train checkpoints with loss histories; a trace of
// every model with all three head methods, circuit evaluations and CMAP against the previous model; and the
// comparison built by the real compareStages. Seeded: the same numbers on every run.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before } from 'node:test';
import type { ModelConfig } from '../../model/config';
import type { ReportActivityInput } from '../../report/publish';
import { collectReportData, type CollectInput } from '../../report/collect';
import type { ReportData } from '../../report/data';
import { ContentStore, LocalBackend, type ArtifactStore } from '../../store';
import type { LineageProgress, LineageResult, StageKind, StageOutput } from '../../contract/lineage';
import type { ArtifactRef } from '../../store/artifact-ref';
import type { CircuitEvaluation } from '../../tracing/circuit';
import { compareStages } from '../../tracing/compare';
import type { CmapPair, LineageComparison, PerPromptValues, StageMetrics, StageRole, StageTrace } from '../../tracing/results';
import type { ScoresJson } from '../../tracing/scores';

export const N_LAYER = 3;
export const N_HEAD = 4;
export const METHODS = ['activation_patching/head_z', 'knockout/head', 'dla/head'];
export const TRACED = ['base', 'finetune-e1', 'finetune-e2', 'finetune-e5', 'corrupt', 'retrain'];
/** The second corruption branch of the branched variant (buildSyntheticLineage({ branches: true })). */
export const BRANCH_TRACED = ['corrupt-name-moving', 'retrain-name-moving'];

const MODEL: ModelConfig = { n_layer: N_LAYER, d_model: 64, n_head: N_HEAD, d_head: 16, d_mlp: 256, n_ctx: 32, vocab: 120, tied: true, ln_eps: 1e-5 };

/** Deterministic noise in [-1, 1). */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 31 - 1;
  };
}

/** The "mechanism" per model: a name mover 2.1, a backup 2.3, S-inhibition 1.2, an induction head 0.3. */
function strengths(label: string): Record<string, number> {
  const e = /^finetune-e(\d+)$/.exec(label);
  const scale = label === 'base' ? 0.25 : e ? Math.min(1, 0.35 + 0.13 * Number(e[1])) : 1;
  const clean = { '2.1': 1.0, '2.3': 0.45, '1.2': 0.7, '0.3': 0.35 };
  if (label === 'corrupt') return { '2.1': -0.8, '2.3': 0.4, '1.2': -0.5, '0.3': 0.33 };
  if (label === 'retrain') return { '2.1': 0.9, '2.3': 0.95, '1.2': 0.05, '0.3': 0.36, '1.0': 0.5 };
  return Object.fromEntries(Object.entries(clean).map(([k, v]) => [k, v * scale]));
}

function headMap(method: string, label: string, seed: number): ScoresJson {
  const next = rng(seed);
  const s = strengths(label);
  const sign = method === 'dla/head' ? 1 : -1; // patching/knockout: the important heads lower the logit difference
  const size = method === 'knockout/head' ? 2.2 : method === 'dla/head' ? 1.6 : 2.8;
  const values: number[] = [];
  for (let l = 0; l < N_LAYER; l++) for (let h = 0; h < N_HEAD; h++) values.push(sign * size * (s[`${l}.${h}`] ?? 0) + 0.06 * next());
  return {
    method,
    axes: ['layer', 'head'],
    shape: [N_LAYER, N_HEAD],
    values,
    metric: method === 'dla/head' ? { name: 'logit_diff', form: 'value', description: 'direct effect on logit(IO) − logit(S)' } : { name: 'logit_diff', form: 'delta', description: 'patched − clean' },
    settings: { n: 32 },
  };
}

function metricsOf(label: string): StageMetrics {
  const ld: Record<string, number> = { base: 0.31, 'finetune-e1': 1.24, 'finetune-e2': 2.05, 'finetune-e5': 3.12, corrupt: -1.84, retrain: 2.63, 'corrupt-name-moving': -0.72, 'retrain-name-moving': 2.91 };
  const v = ld[label];
  const acc = 1 / (1 + Math.exp(-1.6 * v));
  // per-prompt values around the mean (they sum to 32·v), for the bootstrap intervals
  const noise = Array.from({ length: 32 }, (_, i) => Math.sin(1.7 * i + v));
  const mean = noise.reduce((a, x) => a + x, 0) / 32;
  const logitDiffs = noise.map((x) => v + (0.4 + Math.abs(v) * 0.1) * (x - mean));
  return { logitDiff: v, logitDiffStd: 0.4 + Math.abs(v) * 0.1, pairwiseAcc: acc, top1Acc: acc * 0.8, ioProb: acc * 0.55, corruptLogitDiff: 0.05 * v, n: 32, logitDiffs };
}

function evaluation(label: string, heads: string[]): CircuitEvaluation {
  const fModel = metricsOf(label).logitDiff;
  const ratio = label === 'corrupt' ? 0.42 : label === 'base' ? 0.55 : 0.83 + 0.02 * heads.length;
  const fCircuit = fModel * ratio;
  return {
    circuit: { name: `found-${label}`, heads: heads.map((head) => ({ head, positions: 'all' })) },
    ablation: 'mean',
    faithfulness: { fModel, fCircuit, ratio, wang: 1 - Math.abs(fModel - fCircuit) / Math.abs(fModel), gap: Math.abs(fModel - fCircuit) },
    completeness: { samples: [], max: 0.2, mean: 0.1, maxRelative: 0.12, settings: { randomSamples: 10, inclusionProbability: 0.5, seed: 0, classSets: false } },
    minimality: { k: 'classmates', thresholdFraction: 0.01, threshold: 0.02, passed: heads.length - 1, nodes: heads.map((head) => ({ head, K: [], fWithoutK: 1, fWithoutKAndV: 0.5, m: 0.5, pass: true })) },
  };
}

/** Zero-mean per-prompt noise (32 prompts), deterministic. */
function promptNoise(seed: number, scale: number): number[] {
  const xs = Array.from({ length: 32 }, (_, p) => Math.sin(2.3 * p + seed) * scale);
  const m = xs.reduce((a, x) => a + x, 0) / xs.length;
  return xs.map((x) => x - m);
}

/** Per-prompt head maps and circuit values around the stage's means (for the localisation, restoration and faithfulness intervals). */
function perPromptOf(label: string, activation: number[], evaluation: CircuitEvaluation): PerPromptValues {
  const cells = activation.map((_, h) => promptNoise(h + label.length, 0.3));
  const lds = metricsOf(label).logitDiffs!;
  const ratio = evaluation.faithfulness.ratio;
  const fNoise = promptNoise(label.length, 0.2);
  return {
    headScores: { 'activation_patching/head_z': lds.map((_, p) => activation.map((v, h) => v + cells[h][p])) },
    circuit: { fModel: lds, fCircuit: lds.map((ld, p) => ratio * ld + fNoise[p]) },
  };
}

function roleOf(label: string): StageRole {
  return label === 'base' ? 'base' : label.startsWith('corrupt') ? 'corrupted' : label.startsWith('retrain') ? 'retrained' : 'clean';
}

export function stageTrace(label: string, i: number): StageTrace {
  const headScores = Object.fromEntries(METHODS.map((m, j) => [m, headMap(m, label, 100 * i + j + 1)]));
  const heads = label === 'corrupt' ? ['2.1', '2.3'] : ['2.1', '2.3', '1.2', '0.3'];
  const evaluated = evaluation(label, heads);
  return {
    schema: 'plasticity.stage-trace',
    version: 1,
    stage: label,
    role: roleOf(label),
    model: { config: MODEL, gpt2SmallShaped: false, sha256: 'f'.repeat(64) },
    prompts: { n: 32, seed: 2, corruption: 'ABC', lengths: [15, 16], fingerprint: 'fp-synthetic' },
    settings: { ablation: 'mean' },
    metrics: metricsOf(label),
    headScores,
    attributionVsExact: 0.91 - 0.01 * i,
    circuit: {
      discovery: { rankedBy: 'activation_patching/head_z', targetFraction: 0.8, reached: label !== 'corrupt', fModel: 1, fCircuit: 0.85, ratio: 0.85, circuit: { name: `found-${label}`, heads: heads.map((head) => ({ head, positions: 'all' })) }, trajectory: [] },
      evaluation: evaluated,
    },
    perPrompt: perPromptOf(label, headScores['activation_patching/head_z'].values as number[], evaluated),
    timingsMs: { metrics: 120, activation: 900, knockout: 1500, dla: 80 },
    createdAt: '2025-01-01T00:00:00.000Z',
  };
}

function cmapPair(receiver: string, donor: string, i: number): CmapPair {
  const a = stageTrace(receiver, i).headScores['activation_patching/head_z'].values as number[];
  const b = stageTrace(donor, i - 1).headScores['activation_patching/head_z'].values as number[];
  const fReceiver = metricsOf(receiver).logitDiff;
  const fDonor = metricsOf(donor).logitDiff;
  const delta = a.map((v, k) => 0.5 * (v - b[k]));
  const grid = (values: number[], method: string): ScoresJson => ({ method, axes: ['layer', 'head'], shape: [N_LAYER, N_HEAD], values, metric: { name: 'logit_diff', form: 'delta' }, settings: {} });
  return {
    schema: 'plasticity.cmap',
    version: 1,
    receiver,
    donor,
    fReceiver,
    fDonor,
    sweeps: {
      'z@all': { kind: 'z', positions: 'all', delta: grid(delta, 'cmap/z'), normalised: grid(delta.map((d) => d / (fDonor - fReceiver)), 'cmap/z') },
      'pattern@END': { kind: 'pattern', positions: 'END', delta: grid(delta.map((d) => d * 0.4), 'cmap/pattern'), normalised: grid(delta.map((d) => (0.4 * d) / (fDonor - fReceiver)), 'cmap/pattern') },
    },
    sets: [
      { name: 'circuit', heads: ['2.1', '2.3', '1.2'], kinds: ['z'], positions: 'all', freezeNonEnd: false, fReceiver, fDonor, patched: fReceiver + 0.7 * (fDonor - fReceiver), delta: 0.7 * (fDonor - fReceiver), normalised: 0.7 },
    ],
  };
}

/** A descriptor blob like checkpoint/store.ts writes, whose plasticity.json carries the loss history. */
async function checkpoint(store: ArtifactStore, step: number, history: [number, number][]): Promise<ArtifactRef> {
  const meta = await store.putBlob(Buffer.from(JSON.stringify({ format: 'plasticity-checkpoint', step, loss: { last: history[history.length - 1]?.[1] ?? null, recent_mean: null, history } })), 'checkpoint-file');
  const weights = await store.putBlob(Buffer.from(`weights at ${step}`), 'checkpoint-file');
  return store.putBlob(Buffer.from(JSON.stringify({ format: 'plasticity-checkpoint-files', step, files: { 'plasticity.json': meta, 'model.safetensors': weights } })), 'checkpoint');
}

function lossHistory(steps: number, start: number, end: number, seed: number, bump = 0): [number, number][] {
  const next = rng(seed);
  return Array.from({ length: steps }, (_, i) => {
    const t = i / Math.max(1, steps - 1);
    return [i + 1, end + (start - end) * Math.exp(-4 * t) + bump * Math.exp(-((t - 0.15) ** 2) / 0.005) + 0.04 * next()] as [number, number];
  });
}

const T0 = Date.parse('2025-03-01T10:00:00.000Z');
const at = (s: number) => new Date(T0 + s * 1000).toISOString();

function output(stage: string, kind: StageKind, outputs: Record<string, ArtifactRef>, metrics: Record<string, number>, start: number, seconds: number): StageOutput {
  return { stage, kind, key: `${kind}-${stage}-0123456789abcdef`, outputs, artifacts: [...new Map(Object.values(outputs).map((r) => [r.sha256, r])).values()], metrics, startedAt: at(start), finishedAt: at(start + seconds) };
}

export interface SyntheticLineage {
  root: string;
  store: ArtifactStore;
  workflowId: string;
  config: Record<string, unknown>;
  result: LineageResult;
  comparison: LineageComparison;
  traces: StageTrace[];
  /** Loss history length and named marks per train stage. */
  loss: Record<string, { points: number; marks: Record<string, number> }>;
}

export const SYNTHETIC_CONFIG = {
  name: 'synthetic-ioi',
  seed: 0,
  backend: 'wasm',
  model: { source: 'pretrain', arch: { n_layer: N_LAYER, n_head: N_HEAD, d_model: 64 } },
  finetune: { epochs: [1, 2, 5] },
  corrupt: { transform: 'subject', rate: 1, from: 'finetune', epochs: 3 },
  retrain: { epochs: 3 },
  trace: { methods: ['activation', 'knockout', 'dla'], n: 32, circuit: true, cmap: true },
  compare: { top_k: 3 },
};

/** Writes the synthetic lineage into a fresh local store under a temp folder. */
export async function buildSyntheticLineage(opts: { branches?: boolean } = {}): Promise<SyntheticLineage> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'plasticity-report-'));
  const store = new ContentStore(new LocalBackend(path.join(root, 'store')));
  const stages: Record<string, StageOutput> = {};
  let clock = 0;
  const add = (o: StageOutput) => {
    stages[o.stage] = o;
    clock = (Date.parse(o.finishedAt) - T0) / 1000 + 1;
  };
  add(output('validate', 'validate', {}, {}, clock, 0.8));
  const hBase = lossHistory(200, 4.8, 2.1, 1);
  add(output('base', 'base', { checkpoint: await checkpoint(store, 200, hBase) }, { loss: hBase[199][1], steps: 200 }, clock, 95));

  const traces: StageTrace[] = [];
  const traceStage = async (label: string, donor?: string) => {
    const i = TRACED.includes(label) ? TRACED.indexOf(label) : TRACED.length + BRANCH_TRACED.indexOf(label);
    const t = stageTrace(label, i);
    traces.push(t);
    const outputs: Record<string, ArtifactRef> = { trace: await store.putBlob(Buffer.from(JSON.stringify(t)), 'trace') };
    if (donor) outputs.cmap = await store.putBlob(Buffer.from(JSON.stringify(cmapPair(label, donor, i))), 'cmap');
    add(output(`trace-${label}`, 'trace', outputs, { 'ioi.logitDiff': t.metrics.logitDiff, seconds: 2.6 }, clock, 41 + i));
  };
  await traceStage('base');
  const hFt = lossHistory(150, 2.2, 0.35, 2);
  const marks = { 'epoch-1': 30, 'epoch-2': 60, 'epoch-5': 150 };
  const ftOutputs: Record<string, ArtifactRef> = { checkpoint: await checkpoint(store, 150, hFt) };
  for (const [name, step] of Object.entries(marks)) ftOutputs[name] = step === 150 ? ftOutputs.checkpoint : await checkpoint(store, step, hFt.slice(0, step));
  add(output('finetune', 'train', ftOutputs, { epochs: 5, loss: hFt[149][1] }, clock, 130));
  await traceStage('finetune-e1', 'base');
  await traceStage('finetune-e2', 'finetune-e1');
  await traceStage('finetune-e5', 'finetune-e2');
  const hCorrupt = lossHistory(90, 3.1, 0.6, 3, 0.8);
  add(output('corrupt', 'train', { checkpoint: await checkpoint(store, 90, hCorrupt) }, { epochs: 3, loss: hCorrupt[89][1] }, clock, 80));
  await traceStage('corrupt', 'finetune-e5');
  const hRetrain = lossHistory(90, 2.9, 0.4, 4);
  add(output('retrain', 'train', { checkpoint: await checkpoint(store, 90, hRetrain) }, { epochs: 3, loss: hRetrain[89][1] }, clock, 78));
  await traceStage('retrain', 'corrupt');
  const hNm = lossHistory(90, 3.0, 0.9, 5, 0.6);
  const hNmRetrain = lossHistory(90, 2.6, 0.45, 6);
  if (opts.branches) {
    add(output('corrupt-name-moving', 'train', { checkpoint: await checkpoint(store, 90, hNm) }, { epochs: 3, loss: hNm[89][1] }, clock, 81));
    await traceStage('corrupt-name-moving', 'finetune-e5');
    add(output('retrain-name-moving', 'train', { checkpoint: await checkpoint(store, 90, hNmRetrain) }, { epochs: 3, loss: hNmRetrain[89][1] }, clock, 77));
    await traceStage('retrain-name-moving', 'corrupt-name-moving');
  }

  const cmap = TRACED.slice(1).map((label, k) => cmapPair(label, TRACED[k], k + 1));
  const branches = opts.branches
    ? [
        { name: 'subject', clean: 'finetune-e5', corrupted: 'corrupt', retrained: 'retrain', transform: 'subject', rate: 1 },
        { name: 'name-moving', clean: 'finetune-e5', corrupted: 'corrupt-name-moving', retrained: 'retrain-name-moving', transform: 'name-moving', rate: 0.5 },
      ]
    : undefined;
  const comparison = compareStages({ stages: traces, roles: { clean: 'finetune-e5', corrupted: 'corrupt', retrained: 'retrain' }, ...(branches ? { branches } : {}), cmap, thresholds: { topK: [1, 3, 5, 10] }, createdAt: at(clock) });
  const compareRef = await store.putBlob(Buffer.from(JSON.stringify(comparison, (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? null : v))), 'compare');
  const loc = comparison.localisation!.byMethod[comparison.primaryMethod];
  const headline = {
    ...Object.fromEntries(comparison.stages.map((s) => [`logit_diff.${s.name}`, s.metrics.logitDiff])),
    'localisation.top3_share': loc.topShare['3'],
    'restoration.behavioural': comparison.restoration!.behavioural.fraction,
  };
  add(output('compare', 'compare', { compare: compareRef }, headline, clock, 1.2));

  const workflowId = 'lineage-synthetic-ioi-0123abcd-20250301T100000';
  const statuses = Object.fromEntries(Object.keys(stages).map((n) => [n, n === 'base' || n === 'trace-base' ? 'cached' : 'done'])) as Record<string, 'done' | 'cached'>;
  const result: LineageResult = {
    name: 'synthetic-ioi',
    configHash: 'c0ffee'.repeat(10) + 'abcd',
    stages,
    statuses,
    compare: compareRef,
    headline,
    storeUrl: store.url,
    startedAt: at(0),
    finishedAt: at(clock),
  };
  return {
    root,
    store,
    workflowId,
    config: SYNTHETIC_CONFIG,
    result,
    comparison,
    traces,
    loss: {
      base: { points: hBase.length, marks: {} },
      finetune: { points: hFt.length, marks },
      corrupt: { points: hCorrupt.length, marks: {} },
      retrain: { points: hRetrain.length, marks: {} },
      ...(opts.branches ? { 'corrupt-name-moving': { points: hNm.length, marks: {} }, 'retrain-name-moving': { points: hNmRetrain.length, marks: {} } } : {}),
    },
  };
}

/** The same lineage seen mid-run: stages up to trace-corrupt done, retrain running, the rest pending. */
export function runningProgress(l: SyntheticLineage): { progress: LineageProgress; stages: Record<string, StageOutput> } {
  const order = Object.keys(l.result.stages);
  const cut = order.indexOf('retrain');
  const stages = Object.fromEntries(order.slice(0, cut).map((n) => [n, l.result.stages[n]]));
  const progress: LineageProgress = {
    name: l.result.name,
    configHash: l.result.configHash,
    status: 'running',
    current: 'retrain',
    fraction: 0.7,
    startedAt: l.result.startedAt,
    stages: [
      ...order.slice(0, cut).map((n) => ({ stage: n, kind: l.result.stages[n].kind, status: l.result.statuses[n], startedAt: l.result.stages[n].startedAt, finishedAt: l.result.stages[n].finishedAt })),
      { stage: 'retrain', kind: 'train' as const, status: 'running' as const, step: 40, total: 90, loss: 1.3, startedAt: l.result.stages.retrain.startedAt },
      { stage: 'trace-retrain', kind: 'trace' as const, status: 'pending' as const },
      { stage: 'compare', kind: 'compare' as const, status: 'pending' as const },
    ],
  };
  return { progress, stages };
}

export const CODE_VERSION = '0.1.0+abc123';

/** The report data of the completed synthetic lineage (extra fields override the defaults). */
export function collectSynthetic(l: SyntheticLineage, extra: Partial<CollectInput> = {}): Promise<ReportData> {
  return collectReportData(l.store, { workflowId: l.workflowId, result: l.result, config: SYNTHETIC_CONFIG, codeVersion: CODE_VERSION, ...extra });
}

/** What the lineage's report activity would pass for the synthetic lineage. */
export function reportActivityInput(l: SyntheticLineage): ReportActivityInput {
  return {
    workflowId: l.workflowId,
    name: l.result.name,
    configHash: l.result.configHash,
    codeVersion: CODE_VERSION,
    config: SYNTHETIC_CONFIG,
    stages: l.result.stages,
    statuses: l.result.statuses,
    startedAt: l.result.startedAt,
  };
}

export interface SyntheticFixture {
  lineage: SyntheticLineage;
  data: ReportData;
}

/** Registers before/after hooks that build the lineage and its report data, and remove the temp folder. */
export function syntheticFixture(extra: Partial<CollectInput> = {}, opts: { branches?: boolean } = {}): SyntheticFixture {
  const fx = {} as SyntheticFixture;
  before(async () => {
    fx.lineage = await buildSyntheticLineage(opts);
    fx.data = await collectSynthetic(fx.lineage, extra);
  });
  after(() => {
    if (fx.lineage) fs.rmSync(fx.lineage.root, { recursive: true, force: true });
  });
  return fx;
}
