// Builds ReportData from the artifact store: the stage list (workflow result or live progress plus the completed
// stages' outputs), loss curves from the train checkpoints' plasticity.json, per-stage IOI metrics, head maps and
// circuit evaluations from the trace JSON, and diffs, localisation, restoration and CMAP from the compare JSON.
// Reads only; anything unreadable becomes a warning in the report instead of failing it.
import { META_FILE } from '../checkpoint/files';
import type { ArtifactStore } from '../store/artifact-store';
import type { LineageProgress, LineageResult, StageKind, StageOutput, StageProgress, StageStatus } from '../contract/lineage';
import type { ArtifactRef } from '../store/artifact-ref';
import type { CmapPair, LineageComparison, StageTrace } from '../tracing/results';
import type { ScoresJson } from '../tracing/scores';
import type { CircuitEvaluation } from '../tracing/circuit';
import { corruptVariantName } from '../config/branch-name';
import {
  HeadGrid, LossCurve, MethodMaps, REPORT_DATA_SCHEMA, REPORT_DATA_VERSION, ReportCircuit, ReportCmap, ReportData, ReportRestoration,
  ReportStage, ReportTrace, StageDiffMap, type ReportBranch,
} from './data';

export interface CollectInput {
  /** Workflow id (shown in the header, used for the store index). */
  workflowId?: string;
  /** The result of a completed lineage (stages, statuses, compare ref, headline, store URL). */
  result?: LineageResult;
  /** Live progress (stage list with pending/running/failed stages). */
  progress?: LineageProgress;
  /** Completed stages' outputs when there is no result yet (e.g. from the workflow history). */
  stages?: Record<string, StageOutput>;
  /** Per stage: 'done' or 'cached' (reused), when there is no result. */
  statuses?: Record<string, 'done' | 'cached'>;
  /** Headline numbers (default: the result's, else the compare stage's metrics). */
  headline?: Record<string, number>;
  /** The compare artifact, when not in result/stages. */
  compare?: ArtifactRef;
  config?: unknown;
  configHash?: string;
  codeVersion?: string;
  name?: string;
  /** Overall status (default: the result's 'completed', else the progress's status, else 'unknown'). */
  status?: string;
  failure?: string;
  uiUrl?: string;
  startedAt?: string;
  finishedAt?: string;
  generatedAt?: string;
  /** A fork's parent lineage. */
  forkOf?: { workflowId: string; stage: string; set: string[] };
}

/** Reads everything the report shows; never throws for a missing or unreadable artifact (it becomes a warning). */
export async function collectReportData(store: ArtifactStore, input: CollectInput): Promise<ReportData> {
  const warnings: string[] = [];
  const outputs: Record<string, StageOutput> = { ...(input.stages ?? {}), ...(input.result?.stages ?? {}) };
  const readJson = async <T>(ref: ArtifactRef, what: string): Promise<T | undefined> => {
    try {
      return JSON.parse((await store.getBlob(ref)).toString('utf8')) as T;
    } catch (err) {
      warnings.push(`${what}: could not read ${ref.uri}: ${(err as Error).message}`);
      return undefined;
    }
  };

  const stages = stageList(input, outputs);
  const config = input.config;
  const lossCurves: LossCurve[] = [];
  for (const s of stages) {
    const out = outputs[s.name];
    if (!out || (out.kind !== 'train' && out.kind !== 'base')) continue;
    const curve = await lossCurve(store, s.name, out, warnings);
    if (curve) lossCurves.push(curve);
  }

  // Per-stage traces (faithfulness, attribution-vs-exact, timings) and the CMAP pairs they carry.
  const traceJson: StageTrace[] = [];
  const cmapPairs: CmapPair[] = [];
  const traceStageOf = new Map<string, string>();
  for (const s of stages) {
    const out = outputs[s.name];
    if (!out || out.kind !== 'trace') continue;
    if (out.outputs.trace) {
      const t = await readJson<StageTrace>(out.outputs.trace, `stage ${s.name} trace`);
      if (t && t.schema === 'plasticity.stage-trace') {
        traceJson.push(t);
        traceStageOf.set(t.stage, s.name);
      } else if (t) warnings.push(`stage ${s.name}: ${out.outputs.trace.uri} is not a stage trace (schema ${JSON.stringify((t as { schema?: unknown }).schema)})`);
    }
    if (out.outputs.cmap) {
      const c = await readJson<CmapPair>(out.outputs.cmap, `stage ${s.name} cmap`);
      if (c && c.schema === 'plasticity.cmap') cmapPairs.push(c);
    }
  }

  const compareRef = input.compare ?? input.result?.compare ?? outputs.compare?.outputs.compare;
  let comparison: LineageComparison | undefined;
  if (compareRef) {
    const c = await readJson<LineageComparison>(compareRef, 'compare');
    if (c && c.schema === 'plasticity.lineage-comparison') comparison = c;
    else if (c) warnings.push(`compare: ${compareRef.uri} is not a lineage comparison (schema ${JSON.stringify((c as { schema?: unknown }).schema)})`);
  }

  // Traced models in lineage order: the comparison's order when there is one, else the trace stages'.
  const traced = comparison
    ? comparison.stages.map((s) => ({ label: s.name, role: s.role, metrics: s.metrics, headScores: s.headScores }))
    : traceJson.map((t) => ({ label: t.stage, role: t.role, metrics: t.metrics, headScores: t.headScores }));
  const traceByLabel = new Map(traceJson.map((t) => [t.stage, t]));
  const traces: ReportTrace[] = traced.map((t) => traceOf(t.label, t.role, t.metrics, traceByLabel.get(t.label), traceStageOf.get(t.label)));

  const methods = comparison?.methods ?? commonMethods(traced.map((t) => t.headScores));
  const firstMap = traced.length ? Object.values(traced[0].headScores)[0] : undefined;
  const modelConfig = traceJson[0]?.model.config;
  const model = firstMap
    ? { nLayer: firstMap.shape[0], nHead: firstMap.shape[1], ...(modelConfig ? { dModel: modelConfig.d_model } : {}), ...(traceJson[0] ? { gpt2SmallShaped: traceJson[0].model.gpt2SmallShaped } : {}) }
    : modelConfig
      ? { nLayer: modelConfig.n_layer, nHead: modelConfig.n_head, dModel: modelConfig.d_model }
      : undefined;

  const headMaps: MethodMaps[] = [];
  for (const m of methods) {
    const maps = traced.filter((t) => t.headScores[m]).map((t) => ({ label: t.label, scores: t.headScores[m] }));
    if (!maps.length || !model) continue;
    const bad = maps.find((x) => !isHeadMap(x.scores, model.nLayer, model.nHead));
    if (bad) {
      warnings.push(`${m} of ${bad.label}: not a ${model.nLayer}×${model.nHead} [layer, head] map (axes [${bad.scores.axes}], shape [${bad.scores.shape}])`);
      continue;
    }
    headMaps.push({ method: m, metric: describeMetric(maps[0].scores), stages: maps.map((x) => ({ label: x.label, values: x.scores.values })) });
  }

  const diffs: StageDiffMap[] = [];
  for (const mm of headMaps) {
    for (let i = 1; i < mm.stages.length; i++) {
      const from = mm.stages[i - 1];
      const to = mm.stages[i];
      const stats = comparison?.adjacent.find((d) => d.method === mm.method && d.from === from.label && d.to === to.label);
      diffs.push({
        method: mm.method,
        from: from.label,
        to: to.label,
        values: subtract(to.values, from.values),
        ...(stats ? { totalAbsDelta: stats.totalAbsDelta, pearson: stats.pearson, spearman: stats.spearman, topShare: stats.topShare } : {}),
      });
    }
  }

  const cmapSource = comparison?.cmap.length ? comparison.cmap : cmapPairs;
  const cmap: ReportCmap[] = cmapSource.map((p) => ({
    receiver: p.receiver,
    donor: p.donor,
    fReceiver: p.fReceiver,
    fDonor: p.fDonor,
    sweeps: Object.entries(p.sweeps).map(([key, s]) => ({ key, kind: s.kind, positions: s.positions, normalised: s.normalised.values, delta: s.delta.values })),
    sets: p.sets,
  }));

  const restoration: ReportRestoration | undefined = comparison?.restoration
    ? {
        ...comparison.restoration,
        mechanistic: Object.fromEntries(
          Object.entries(comparison.restoration.mechanistic).map(([m, r]) => [
            m,
            { pearson: r.pearson, spearman: r.spearman, corruptedPearson: r.corruptedPearson, corruptedSpearman: r.corruptedSpearman, threshold: r.threshold, counts: r.counts, heads: r.heads },
          ]),
        ),
      }
    : undefined;

  const branches: ReportBranch[] | undefined = comparison?.branches?.map((b) => {
    const clean = comparison.stages.find((x) => x.name === b.clean)?.headScores[b.method]?.values as number[] | undefined;
    const corrupted = comparison.stages.find((x) => x.name === b.corrupted)?.headScores[b.method]?.values as number[] | undefined;
    const mech = b.restoration.mechanistic[b.method];
    return {
      name: b.name,
      ...(b.transform !== undefined ? { transform: b.transform } : {}),
      ...(b.rate !== undefined ? { rate: b.rate } : {}),
      clean: b.clean,
      corrupted: b.corrupted,
      retrained: b.retrained,
      method: b.method,
      topShare: b.localisation.topShare,
      delta: clean && corrupted ? corrupted.map((v, i) => v - clean[i]) : null,
      changed: b.localisation.changed,
      behavioural: b.restoration.behavioural,
      pearson: mech?.pearson ?? null,
      corruptedPearson: mech?.corruptedPearson ?? null,
      faithfulness: b.faithfulness,
      counts: b.counts,
      heads: b.heads,
      ...(b.intervals ? { intervals: b.intervals } : {}),
    };
  });

  const result = input.result;
  const progress = input.progress;
  const data: ReportData = {
    schema: REPORT_DATA_SCHEMA,
    version: REPORT_DATA_VERSION,
    generatedAt: input.generatedAt ?? new Date().toISOString(),
    lineage: {
      ...(input.workflowId ? { id: input.workflowId } : {}),
      name: input.name ?? result?.name ?? progress?.name ?? nameOf(config) ?? 'lineage',
      status: input.status ?? (result ? 'completed' : (progress?.status ?? 'unknown')),
      ...defined({
        configHash: input.configHash ?? result?.configHash ?? progress?.configHash,
        codeVersion: input.codeVersion,
        startedAt: input.startedAt ?? result?.startedAt ?? progress?.startedAt,
        finishedAt: input.finishedAt ?? result?.finishedAt ?? progress?.finishedAt,
        storeUrl: result?.storeUrl ?? store.url,
        uiUrl: input.uiUrl,
        failure: input.failure,
        forkOf: input.forkOf ?? result?.forkOf,
        headline: input.headline ?? result?.headline ?? outputs.compare?.metrics,
      }),
    },
    ...(config !== undefined ? { config } : {}),
    stages,
    edges: lineageEdges(stages.map((s) => s.name), corruptFrom(config), branchFroms(config)),
    lossCurves,
    ...(model ? { model } : {}),
    ...(comparison ? { headClasses: headClassesOf(comparison) } : {}),
    traces,
    methods: headMaps.map((m) => m.method),
    ...(comparison?.primaryMethod ?? headMaps[0]?.method ? { primaryMethod: comparison?.primaryMethod ?? headMaps[0].method } : {}),
    headMaps,
    diffs,
    ...(comparison?.localisation
      ? {
          localisation: {
            from: comparison.localisation.from,
            to: comparison.localisation.to,
            primaryMethod: comparison.primaryMethod,
            byMethod: Object.fromEntries(
              Object.entries(comparison.localisation.byMethod).map(([m, d]) => [m, { totalAbsDelta: d.totalAbsDelta, topShare: d.topShare, changed: d.changed }]),
            ),
          },
        }
      : {}),
    ...(restoration ? { restoration } : {}),
    ...(branches ? { branches } : {}),
    cmap,
    warnings,
  };
  // One JSON round trip: NaN/Infinity become null, as in a saved report-data file.
  return JSON.parse(JSON.stringify(data)) as ReportData;
}

/** Stages in lineage order: the progress list (includes pending ones) when given, else the outputs' order. */
function stageList(input: CollectInput, outputs: Record<string, StageOutput>): ReportStage[] {
  const statuses = { ...(input.statuses ?? {}), ...(input.result?.statuses ?? {}) };
  const fromProgress: StageProgress[] = input.progress?.stages ?? [];
  const names = [...fromProgress.map((p) => p.stage), ...Object.keys(outputs).filter((n) => !fromProgress.some((p) => p.stage === n))];
  return names.map((name) => {
    const p = fromProgress.find((x) => x.stage === name);
    const out = outputs[name];
    const status: StageStatus = p?.status ?? statuses[name] ?? (out ? 'done' : 'pending');
    const startedAt = out?.startedAt ?? p?.startedAt;
    const finishedAt = out?.finishedAt ?? p?.finishedAt;
    const duration = startedAt && finishedAt ? (Date.parse(finishedAt) - Date.parse(startedAt)) / 1000 : undefined;
    const kind: StageKind = out?.kind ?? p?.kind ?? 'validate';
    return {
      name,
      kind,
      status,
      ...defined({ startedAt, finishedAt, durationSeconds: duration !== undefined && Number.isFinite(duration) ? duration : undefined }),
      artifacts: out ? artifactsOf(out) : [],
      metrics: out?.metrics ?? {},
      ...defined({ step: p?.step, total: p?.total, error: p?.error }),
      ...(p?.status === 'running' && p.loss !== undefined ? { metrics: { ...(out?.metrics ?? {}), loss: p.loss } } : {}),
    };
  });
}

function artifactsOf(out: StageOutput): ReportStage['artifacts'] {
  const named = Object.entries(out.outputs ?? {}).map(([name, ref]) => ({ name, kind: ref.kind, uri: ref.uri, sha256: ref.sha256, bytes: ref.bytes }));
  const extra = (out.artifacts ?? []).filter((a) => !named.some((n) => n.sha256 === a.sha256)).map((a) => ({ name: a.kind, kind: a.kind, uri: a.uri, sha256: a.sha256, bytes: a.bytes }));
  return [...named, ...extra];
}

interface Descriptor {
  format: string;
  step: number;
  files: Record<string, ArtifactRef>;
}

/** The loss history in the final checkpoint's plasticity.json, with the named checkpoints (epochs) as marks. */
async function lossCurve(store: ArtifactStore, stage: string, out: StageOutput, warnings: string[]): Promise<LossCurve | undefined> {
  const final = out.outputs.checkpoint;
  if (!final) return undefined;
  const descriptor = async (ref: ArtifactRef): Promise<Descriptor | undefined> => {
    if (ref.kind !== 'checkpoint') return undefined;
    const d = JSON.parse((await store.getBlob(ref)).toString('utf8')) as Descriptor;
    return d && typeof d.step === 'number' && d.files ? d : undefined;
  };
  try {
    const d = await descriptor(final);
    const metaRef = d?.files[META_FILE];
    if (!metaRef) return undefined; // an imported model folder: no training history
    const meta = JSON.parse((await store.getBlob(metaRef)).toString('utf8')) as { loss?: { history?: [number, number][] } | null };
    const history = meta.loss?.history ?? [];
    if (!history.length) return undefined;
    const marks: LossCurve['marks'] = [];
    for (const [name, ref] of Object.entries(out.outputs)) {
      if (name === 'checkpoint') continue;
      const m = await descriptor(ref).catch(() => undefined);
      if (m) marks.push({ label: name, step: m.step });
    }
    marks.sort((a, b) => a.step - b.step);
    return { stage, points: history.filter(([s, l]) => Number.isFinite(s) && Number.isFinite(l)).map(([step, loss]) => ({ step, loss })), marks };
  } catch (err) {
    warnings.push(`stage ${stage}: loss history unreadable (${(err as Error).message})`);
    return undefined;
  }
}

function traceOf(label: string, role: StageTrace['role'], metrics: StageTrace['metrics'], t: StageTrace | undefined, stage: string | undefined): ReportTrace {
  const circuit = t?.circuit;
  const found = circuit?.evaluation ? circuitOf(circuit.evaluation, circuit.discovery) : undefined;
  return {
    label,
    ...defined({ stage, role }),
    metrics,
    ...(t?.attributionVsExact !== undefined ? { attributionVsExact: t.attributionVsExact } : {}),
    ...(found ? { circuit: found } : {}),
    ...(circuit?.reference ? { reference: circuitOf(circuit.reference) } : {}),
    ...(t?.timingsMs ? { timingsMs: t.timingsMs } : {}),
  };
}

function circuitOf(e: CircuitEvaluation, discovery?: NonNullable<StageTrace['circuit']>['discovery']): ReportCircuit {
  const f = e.faithfulness;
  return {
    name: e.circuit.name,
    heads: e.circuit.heads.map((h) => h.head),
    faithfulness: { fModel: f.fModel, fCircuit: f.fCircuit, ratio: f.ratio, wang: f.wang },
    ...(e.completeness ? { completenessMaxRelative: e.completeness.maxRelative } : {}),
    ...(e.minimality ? { minimality: { passed: e.minimality.passed, total: e.minimality.nodes.length } } : {}),
    ...(discovery ? { rankedBy: discovery.rankedBy, reached: discovery.reached } : {}),
  };
}

function commonMethods(maps: Record<string, ScoresJson>[]): string[] {
  if (!maps.length) return [];
  return Object.keys(maps[0]).filter((m) => maps.every((x) => x[m]));
}

function isHeadMap(s: ScoresJson, nLayer: number, nHead: number): boolean {
  return s.axes.join(',') === 'layer,head' && s.shape[0] === nLayer && s.shape[1] === nHead && s.values.length === nLayer * nHead;
}

function describeMetric(s: ScoresJson): string {
  const m = s.metric;
  const form = m.form === 'normalised' && m.normalised ? `normalised: ${m.normalised}` : m.form;
  return `${m.name} (${form})${m.description ? ` — ${m.description}` : ''}`;
}

function subtract(a: HeadGrid, b: HeadGrid): HeadGrid {
  return a.map((v, i) => (v === null || b[i] === null ? null : v - (b[i] as number)));
}

/** Wang's head classes named in the comparison (only GPT-2-small-shaped models have them). */
function headClassesOf(c: LineageComparison): Record<string, string> | undefined {
  const out: Record<string, string> = {};
  const heads = [
    ...Object.values(c.restoration?.mechanistic ?? {}).flatMap((m) => m.heads),
    ...Object.values(c.localisation?.byMethod ?? {}).flatMap((d) => d.changed),
    ...c.adjacent.flatMap((d) => d.changed),
  ];
  for (const h of heads) if (h.cls) out[h.head] = h.cls;
  return Object.keys(out).length ? out : undefined;
}

/**
 * Data flow between stages: validate → base → finetune → corrupt → retrain (corrupt starts from `corruptFrom`),
 * each train stage → its trace stages (trace-<stage> or trace-<stage>-…), every trace → compare → report.
 * Stages that fit none of these follow the previous stage.
 */
export function lineageEdges(names: string[], corruptFrom = 'finetune', branchFrom: Record<string, string> = {}): { from: string; to: string }[] {
  const has = (n: string) => names.includes(n);
  const edges: { from: string; to: string }[] = [];
  const add = (from: string, to: string) => {
    if (has(from) && has(to)) edges.push({ from, to });
  };
  add('validate', 'base');
  add('base', 'finetune');
  add(has(corruptFrom) ? corruptFrom : has('finetune') ? 'finetune' : 'base', 'corrupt');
  add('corrupt', 'retrain');
  // corruption branches: corrupt-<name> from the clean train stage, then retrain-<name>
  for (const n of names) {
    const m = /^corrupt-(.+)$/.exec(n);
    if (!m) continue;
    const from = branchFrom[m[1]] ?? corruptFrom;
    add(has(from) ? from : has('finetune') ? 'finetune' : 'base', n);
    add(n, `retrain-${m[1]}`);
  }
  names.forEach((name, i) => {
    if (edges.some((e) => e.to === name) || name === 'validate') return;
    if (name.startsWith('trace-')) {
      const label = name.slice('trace-'.length);
      const parent = names.filter((n) => !n.startsWith('trace-') && (label === n || label.startsWith(`${n}-`))).sort((a, b) => b.length - a.length)[0];
      if (parent) return add(parent, name);
    }
    if (name === 'compare') {
      const traces = names.filter((n) => n.startsWith('trace-'));
      if (traces.length) return traces.forEach((t) => add(t, name));
    }
    if (name === 'report' && has('compare')) return add('compare', name);
    if (i > 0) add(names[i - 1], name);
  });
  return edges;
}

function corruptFrom(config: unknown): string | undefined {
  const from = (config as { corrupt?: { from?: unknown } } | undefined)?.corrupt?.from;
  return typeof from === 'string' ? from : undefined;
}

/** Branch name → the stage its corrupt stage starts from, for a `corrupt` list (names as config/branch-name.ts). */
function branchFroms(config: unknown): Record<string, string> {
  const list = (config as { corrupt?: unknown } | undefined)?.corrupt;
  if (!Array.isArray(list)) return {};
  return Object.fromEntries(
    list.map((v: { name?: string; transform: string; rate: number; from?: string }) => [corruptVariantName(v), v.from === 'base' ? 'base' : 'finetune']),
  );
}

function nameOf(config: unknown): string | undefined {
  const name = (config as { name?: unknown } | undefined)?.name;
  return typeof name === 'string' ? name : undefined;
}

function defined<T extends Record<string, unknown>>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
