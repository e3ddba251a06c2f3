// One lineage stage's trace: the model's IOI metrics and its head-score maps by every configured method, on one
// trace set, plus (optionally) a re-found circuit and its evaluation. Output: StageTrace (tracing/results.ts).
import { createHash } from 'node:crypto';
import { ioiMetrics, logitDiffs as ioiLogitDiffs } from '../ioi/metrics';
import { tf } from '../model/engine';
import { GPT2 } from '../model/gpt2';
import { attributionPatching } from './attribution';
import { pathPatchingPrepared } from './path';
import { hookName } from '../model/hook-names';
import { DEFAULT_MEMORY_BUDGET_MB, PreparedBatch, disposePrepared, fitToBudget, prepareBatch } from './batched';
import { TraceSet, tokensTensor, totalPrompts } from './batch';
import { Circuit, CircuitEvaluation, circuitToJson, discoverCircuit, evaluateCircuit, faithfulnessPerPrompt, isGpt2SmallShaped, MinimalityK, wangCircuit } from './circuit';
import { directLogitAttribution } from './dla';
import { activationPatchingParallel } from './parallel';
import { Ablation, Knockout, knockoutSweep } from './knockout';
import { PerPromptValues, RESULTS_VERSION, StageMetrics, StageRole, StageTrace } from './results';
import { Scores, scoresToJson } from './scores';
import { DeterministicError } from '../errors/deterministic';

/**
 * Methods giving a [layer, head] map, all as changes of the mean logit difference (logits):
 * activation — exact per-head z patching, clean run with the corrupt z (noising): patched − clean;
 * attribution — attribution patching's estimate of the same (gradient × activation difference);
 * path — path patching of each head → logits (Wang): patched − clean;
 * knockout — F(M \ {h}) − F(M) with the configured ablation; dla — direct logit attribution at END.
 */
export type TraceMethod = 'activation' | 'attribution' | 'path' | 'knockout' | 'dla';
export const TRACE_METHODS: readonly TraceMethod[] = ['activation', 'attribution', 'path', 'knockout', 'dla'];

/** The head-map key each method writes in StageTrace.headScores. */
export const METHOD_KEY: Record<TraceMethod, string> = {
  activation: 'activation_patching/head_z',
  attribution: 'attribution_patching/head_z',
  path: 'path_patching/logits',
  knockout: 'knockout/head',
  dla: 'dla/head',
};

export interface CircuitSettings {
  /** Re-find a circuit from this method's map (default: activation if traced, else knockout); false = skip. */
  discover?: false | { rankBy?: TraceMethod; targetFraction?: number; maxHeads?: number };
  completenessSamples?: number; // default 10; 0 = skip completeness
  minimalityK?: MinimalityK; // default 'classmates'
  /** Also evaluate Wang's 26-head circuit (GPT-2-small-shaped models with named positions; default true). */
  reference?: boolean;
  /** Circuits given by the experiment, each evaluated (faithfulness, completeness, minimality). */
  circuits?: Circuit[];
}

/** A trace stage's progress: after each step (method), and inside a step its items (heads, specs) with an ETA. */
export interface TraceProgress {
  stage: string;
  step: string;
  /** Steps finished of all. */
  done: number;
  total: number;
  item?: { done: number; total: number; etaSeconds?: number };
}

export interface TraceSettings {
  stage: string;
  role?: StageRole;
  methods?: TraceMethod[]; // default all
  ablation?: Ablation; // knockout / circuit evaluation (default 'mean')
  circuit?: CircuitSettings | false;
  maxRowsPerPass?: number;
  memoryBudgetMB?: number;
  /** Threads of the exact activation sweep (tracing/parallel.ts; default 'auto': 2 on wasm/cpu when the sweep is big). */
  threads?: number | 'auto';
  /** Provenance recorded in the result. */
  model?: { dir?: string; sha256?: string; source?: string };
  prompts?: { seed?: number; file?: string; corruption?: string };
  onProgress?: (p: TraceProgress) => void;
  /** Least time between two in-step progress reports (default 1000 ms). */
  itemProgressMs?: number;
}

/** sha256 over every token id, label and position of the set (stages are comparable only on equal fingerprints). */
export function traceSetFingerprint(set: TraceSet): string {
  const h = createHash('sha256');
  for (const b of set) {
    for (const a of [b.clean, b.corrupt, b.io, b.s, b.end]) h.update(Buffer.from(a.buffer, a.byteOffset, a.byteLength));
    h.update(JSON.stringify({ T: b.T, positions: b.positions ?? null }));
  }
  return h.digest('hex').slice(0, 32);
}

/** IOI metrics of the clean prompts (and the corrupted prompts' logit difference). */
export async function stageMetrics(model: GPT2, set: TraceSet): Promise<StageMetrics> {
  const V = model.config.vocab;
  let n = 0;
  const sums = { logitDiff: 0, pairwiseAcc: 0, top1Acc: 0, ioProb: 0, corrupt: 0 };
  const lds: number[] = [];
  for (const b of set) {
    const [clean, corrupt] = (['clean', 'corrupt'] as const).map((w) => tf.tidy(() => model.run(tokensTensor(b, w), { logitsAt: b.end }).logits!));
    const cl = (await clean.data()) as Float32Array;
    const co = (await corrupt.data()) as Float32Array;
    tf.dispose([clean, corrupt]);
    const m = ioiMetrics(cl, V, b.io, b.s);
    sums.logitDiff += m.logitDiff * b.n;
    sums.pairwiseAcc += m.pairwiseAcc * b.n;
    sums.top1Acc += m.top1Acc * b.n;
    sums.ioProb += m.ioProb * b.n;
    sums.corrupt += ioiLogitDiffs(co, V, b.io, b.s).reduce((a, x) => a + x, 0);
    lds.push(...ioiLogitDiffs(cl, V, b.io, b.s));
    n += b.n;
  }
  const mean = sums.logitDiff / n;
  const std = n > 1 ? Math.sqrt(lds.reduce((a, x) => a + (x - mean) ** 2, 0) / (n - 1)) : 0;
  return { logitDiff: mean, logitDiffStd: std, pairwiseAcc: sums.pairwiseAcc / n, top1Acc: sums.top1Acc / n, ioProb: sums.ioProb / n, corruptLogitDiff: sums.corrupt / n, n, logitDiffs: lds };
}

/** A patched-LD map as the delta patched − clean. */
function asDelta(patched: Scores, clean: number): Scores {
  return {
    ...patched,
    values: patched.values.map((v) => v - clean),
    metric: { ...patched.metric, form: 'delta', description: `${patched.metric.description ?? ''}, minus the clean logit difference` },
  };
}

/** Each prompt's patched − clean logit difference per component: one row per prompt. */
function promptDeltas(p: { components: number; patched: Float32Array; clean: Float32Array }): number[][] {
  return Array.from(p.clean, (c, n) => Array.from(p.patched.subarray(n * p.components, (n + 1) * p.components), (v) => v - c));
}

/** Traces one stage's model on a trace set with the configured methods. */
export async function traceStage(model: GPT2, set: TraceSet, settings: TraceSettings): Promise<StageTrace> {
  const methods = settings.methods ?? [...TRACE_METHODS];
  for (const m of methods) if (!TRACE_METHODS.includes(m)) throw new DeterministicError(`trace.methods: unknown method '${m}'; expected ${TRACE_METHODS.join(', ')}`);
  if (totalPrompts(set) === 0) throw new DeterministicError('trace: the trace set has no prompts');
  const circuitSettings = settings.circuit === false ? undefined : (settings.circuit ?? {});
  const ablation = settings.ablation ?? 'mean';
  const timingsMs: Record<string, number> = {};
  // activation first, so attribution can report its rank correlation against it
  const ordered = [...new Set(methods)].sort((a, b) => TRACE_METHODS.indexOf(a) - TRACE_METHODS.indexOf(b));
  const steps = ['metrics', ...ordered, ...(circuitSettings ? ['circuit'] : [])];
  let done = 0;
  let itemReport: ((d: number, t: number) => void) | undefined;
  const timed = async <T>(step: string, fn: () => Promise<T>): Promise<T> => {
    const t0 = performance.now();
    let last = 0;
    itemReport = (d, t) => {
      const now = performance.now();
      if (d < t && now - last < (settings.itemProgressMs ?? 1000)) return;
      last = now;
      const rate = d / (now - t0);
      const etaSeconds = d > 0 ? Math.round((t - d) / rate / 1000) : undefined;
      settings.onProgress?.({ stage: settings.stage, step, done, total: steps.length, item: { done: d, total: t, ...(etaSeconds !== undefined ? { etaSeconds } : {}) } });
    };
    const out = await fn();
    itemReport = undefined;
    timingsMs[step] = performance.now() - t0;
    settings.onProgress?.({ stage: settings.stage, step, done: ++done, total: steps.length });
    return out;
  };
  const items = (d: number, t: number) => itemReport?.(d, t);

  const metrics = await timed('metrics', () => stageMetrics(model, set));
  const maps: Partial<Record<TraceMethod, Scores>> = {};
  const perPrompt: PerPromptValues = {};
  let dlaComponents: Record<string, number> | undefined;
  let attributionVsExact: number | undefined;
  const needKnockout = methods.includes('knockout') || !!circuitSettings;
  const budget = { maxRowsPerPass: settings.maxRowsPerPass, memoryBudgetMB: settings.memoryBudgetMB };
  // One clean and one corrupt run per batch (every resid_pre and z), shared by activation, path and knockout.
  let prepared: PreparedBatch[] | undefined;
  let ko: Knockout | undefined;
  try {
    if (needKnockout || methods.includes('activation') || methods.includes('path')) {
      const zNames = Array.from({ length: model.config.n_layer }, (_, l) => hookName.z(l));
      prepared = [];
      for (const b of fitToBudget(model, set, settings.memoryBudgetMB ?? DEFAULT_MEMORY_BUDGET_MB)) prepared.push(prepareBatch(model, b, zNames));
    }
    if (needKnockout) ko = await Knockout.create(model, set, { ablation, ...budget, prepared, onProgress: items });
    for (const m of ordered) {
      maps[m] = await timed(m, async () => {
        if (m === 'activation') {
          const r = await activationPatchingParallel(model, set, { target: 'head_z', direction: 'noising', memoryBudgetMB: settings.memoryBudgetMB, perPrompt: true },
            { threads: settings.threads, prepared, onProgress: items });
          if (r.perPrompt) perPrompt.headScores = { [METHOD_KEY.activation]: promptDeltas(r.perPrompt) };
          return asDelta(r.patched, r.clean);
        }
        if (m === 'attribution') {
          const r = await attributionPatching(model, set, { direction: 'noising', exact: maps.activation });
          attributionVsExact = r.rankCorrelation;
          return r.delta;
        }
        if (m === 'path') {
          const r = await pathPatchingPrepared(model, prepared!, { receiver: { kind: 'logits' }, memoryBudgetMB: settings.memoryBudgetMB, sweep: { onProgress: items } });
          return asDelta(r.patched, r.clean);
        }
        if (m === 'knockout') return knockoutSweep(model, set, {}, ko);
        const dla = await directLogitAttribution(model, set);
        dlaComponents = dla.components;
        return dla.heads;
      });
    }

    let circuit: StageTrace['circuit'];
    const cko = ko;
    if (circuitSettings && cko) {
      circuit = await timed('circuit', async () => {
        const ko = cko;
        const out: NonNullable<StageTrace['circuit']> = {};
        const evalOpts = {
          completeness: (circuitSettings.completenessSamples ?? 10) > 0 ? { samples: circuitSettings.completenessSamples ?? 10 } : (false as const),
          minimality: { k: circuitSettings.minimalityK ?? 'classmates' },
        };
        if (circuitSettings.discover !== false) {
          const d = circuitSettings.discover ?? {};
          const rankBy = d.rankBy ?? (maps.activation ? 'activation' : 'knockout');
          const scores = maps[rankBy] ?? (rankBy === 'knockout' ? await knockoutSweep(model, set, {}, ko) : undefined);
          if (!scores) throw new Error(`trace.circuit.discover.rankBy: method '${rankBy}' was not traced (methods: ${methods.join(', ')})`);
          const found = await discoverCircuit(ko, scores, { targetFraction: d.targetFraction, maxHeads: d.maxHeads });
          out.discovery = { ...found, circuit: circuitToJson(found.circuit) };
          if (found.circuit.heads.length) {
            out.evaluation = await evaluateCircuit(ko, found.circuit, evalOpts);
            const rows = await faithfulnessPerPrompt(ko, found.circuit);
            perPrompt.circuit = { fModel: Array.from(rows.fModel), fCircuit: Array.from(rows.fCircuit) };
          }
        }
        const canReference = isGpt2SmallShaped(model.config) && set.every((b) => b.positions);
        if ((circuitSettings.reference ?? true) && canReference) {
          out.reference = (await evaluateCircuit(ko, wangCircuit(), { ...evalOpts, minimality: { k: 'wang' } })) as CircuitEvaluation;
        }
        if (circuitSettings.circuits?.length) {
          out.configured = [];
          for (const c of circuitSettings.circuits) out.configured.push(await evaluateCircuit(ko, c, evalOpts));
        }
        return out;
      });
    }

    const headScores: StageTrace['headScores'] = {};
    for (const m of ordered) headScores[METHOD_KEY[m]] = scoresToJson(maps[m]!);
    return {
      schema: 'plasticity.stage-trace',
      version: RESULTS_VERSION,
      stage: settings.stage,
      ...(settings.role ? { role: settings.role } : {}),
      model: { ...settings.model, config: { ...model.config }, gpt2SmallShaped: isGpt2SmallShaped(model.config) },
      prompts: {
        n: totalPrompts(set),
        ...(settings.prompts?.seed !== undefined ? { seed: settings.prompts.seed } : {}),
        ...(settings.prompts?.file ? { file: settings.prompts.file } : {}),
        corruption: settings.prompts?.corruption ?? 'abc',
        lengths: [...new Set(set.map((b) => b.T))],
        fingerprint: traceSetFingerprint(set),
      },
      settings: { methods: ordered, ablation, circuit: circuitSettings ?? false, maxRowsPerPass: settings.maxRowsPerPass ?? null, memoryBudgetMB: settings.memoryBudgetMB ?? null },
      metrics,
      headScores,
      ...(dlaComponents ? { dlaComponents } : {}),
      ...(attributionVsExact !== undefined ? { attributionVsExact } : {}),
      ...(circuit ? { circuit } : {}),
      ...(perPrompt.headScores || perPrompt.circuit ? { perPrompt } : {}),
      timingsMs,
      createdAt: new Date().toISOString(),
    };
  } finally {
    ko?.dispose();
    prepared?.forEach(disposePrepared);
  }
}
