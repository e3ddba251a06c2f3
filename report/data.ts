// ReportData: everything the HTML report of one lineage shows, as plain JSON (non-finite numbers are null). Built
// from the store by report/collect.ts, rendered by report/render.ts, and saved beside the report so it can be
// re-rendered offline (`plasticity report --from-json`). Pure types plus a shape check; no I/O.
import type { StageKind, StageStatus } from '../contract/lineage';
import type { CmapSetResult } from '../tracing/cmap';
import type { BranchComparison, HeadChange, HeadRestoration, RestorationLabel, StageMetrics, StageRole } from '../tracing/results';

export const REPORT_DATA_SCHEMA = 'plasticity.report-data' as const;
export const REPORT_DATA_VERSION = 1 as const;

export interface ReportArtifact {
  /** Output name in the stage (e.g. 'checkpoint', 'epoch-2', 'trace'). */
  name: string;
  kind: string;
  uri: string;
  sha256: string;
  bytes: number;
}

export interface ReportStage {
  name: string;
  kind: StageKind;
  status: StageStatus;
  startedAt?: string;
  finishedAt?: string;
  durationSeconds?: number;
  artifacts: ReportArtifact[];
  metrics: Record<string, number>;
  /** Running stage: step/total, loss, ETA. */
  step?: number;
  total?: number;
  error?: string;
}

export interface LossCurve {
  stage: string;
  points: { step: number; loss: number }[];
  /** Named checkpoints along the curve (e.g. finetune epochs). */
  marks: { label: string; step: number }[];
}

/** One traced model (a trace stage): its IOI behaviour and circuit evaluation. */
export interface ReportTrace {
  /** The traced model's label (e.g. 'finetune-e2'); head maps are keyed by it. */
  label: string;
  /** The trace stage's name (e.g. 'trace-finetune-e2'). */
  stage?: string;
  role?: StageRole;
  metrics: StageMetrics;
  /** Spearman ρ of attribution patching vs exact activation patching. */
  attributionVsExact?: number | null;
  circuit?: ReportCircuit;
  /** Wang's circuit evaluated on this model (GPT-2-small-shaped models only). */
  reference?: ReportCircuit;
  timingsMs?: Record<string, number>;
}

export interface ReportCircuit {
  name: string;
  heads: string[];
  /** F(C)/F(M) and Wang's 1 − |F(M) − F(C)|/|F(M)|. */
  faithfulness: { fModel: number | null; fCircuit: number | null; ratio: number | null; wang: number | null };
  completenessMaxRelative?: number | null;
  minimality?: { passed: number; total: number };
  /** Discovery: ranked by which method, and whether the target fraction was reached. */
  rankedBy?: string;
  reached?: boolean;
}

/** A [layer, head] map: row-major values (layer outer), null = not computed. */
export type HeadGrid = (number | null)[];

export interface MethodMaps {
  method: string;
  /** What the numbers are (e.g. 'logit_diff delta: patched − clean'). */
  metric: string;
  /** Head map per traced model label, in lineage order. */
  stages: { label: string; values: HeadGrid }[];
}

/** A head map's change from one stage to the next (to − from), with the compare stage's statistics. */
export interface StageDiffMap {
  method: string;
  from: string;
  to: string;
  values: HeadGrid;
  totalAbsDelta?: number | null;
  pearson?: number | null;
  spearman?: number | null;
  topShare?: Record<string, number | null>;
}

export interface Localisation {
  from: string;
  to: string;
  primaryMethod: string;
  byMethod: Record<string, { totalAbsDelta: number | null; topShare: Record<string, number | null>; changed: HeadChange[] }>;
}

export interface ReportRestoration {
  clean: string;
  corrupted: string;
  retrained: string;
  behavioural: { ldClean: number | null; ldCorrupted: number | null; ldRetrained: number | null; fraction: number | null };
  primaryMethod: string;
  behaviourRestoredMechanismNot: boolean;
  mechanistic: Record<
    string,
    {
      pearson: number | null;
      spearman: number | null;
      corruptedPearson: number | null;
      corruptedSpearman: number | null;
      threshold: number | null;
      counts: Record<RestorationLabel, number>;
      heads: HeadRestoration[];
    }
  >;
}

/**
 * One corruption branch of the comparison, side by side with the others: the compare artifact's BranchComparison
 * (its names and labels as they are) with its numbers as JSON (non-finite → null) and the head-map delta.
 */
export interface ReportBranch extends Pick<BranchComparison, 'name' | 'transform' | 'rate' | 'clean' | 'corrupted' | 'retrained' | 'method' | 'counts' | 'heads'> {
  topShare: Record<string, number | null>;
  /** Head map change corrupted − clean on `method`, layer-major (null when the traces are not in the comparison). */
  delta: HeadGrid | null;
  changed: HeadChange[];
  behavioural: { ldClean: number | null; ldCorrupted: number | null; ldRetrained: number | null; fraction: number | null };
  pearson: number | null;
  corruptedPearson: number | null;
  faithfulness: { corrupted?: number | null; retrained?: number | null };
  intervals?: Record<'ldClean' | 'ldCorrupted' | 'ldRetrained' | 'behavioural', ReportInterval> & {
    topShare?: Record<string, ReportInterval>;
    mechanistic?: ReportInterval;
    faithfulness?: { corrupted?: ReportInterval; retrained?: ReportInterval };
    samples: number;
  };
}

/** A bootstrap interval as JSON (non-finite ends are null). */
export interface ReportInterval {
  value: number | null;
  lo: number | null;
  hi: number | null;
}

export interface ReportCmap {
  receiver: string;
  donor: string;
  fReceiver: number | null;
  fDonor: number | null;
  sweeps: { key: string; kind: string; positions: string; normalised: HeadGrid; delta: HeadGrid }[];
  sets: CmapSetResult[];
}

export interface ReportData {
  schema: typeof REPORT_DATA_SCHEMA;
  version: typeof REPORT_DATA_VERSION;
  generatedAt: string;
  lineage: {
    /** Workflow id, when known. */
    id?: string;
    name: string;
    status: string;
    configHash?: string;
    codeVersion?: string;
    startedAt?: string;
    finishedAt?: string;
    storeUrl?: string;
    uiUrl?: string;
    failure?: string;
    /** A fork: the parent lineage, the stage it diverges at, and the overrides. */
    forkOf?: { workflowId: string; stage: string; set: string[] };
    /** Headline numbers of the workflow result (e.g. logit_diff.finetune, restoration.behavioural). */
    headline?: Record<string, number>;
  };
  /** The experiment config as run. */
  config?: unknown;
  stages: ReportStage[];
  /** Stage dependencies (data flow) for the lineage graph. */
  edges: { from: string; to: string }[];
  lossCurves: LossCurve[];
  model?: { nLayer: number; nHead: number; dModel?: number; gpt2SmallShaped?: boolean };
  /** Wang's class of a head ("L.H" → class), GPT-2-small-shaped models only. */
  headClasses?: Record<string, string>;
  traces: ReportTrace[];
  methods: string[];
  primaryMethod?: string;
  headMaps: MethodMaps[];
  diffs: StageDiffMap[];
  localisation?: Localisation;
  restoration?: ReportRestoration;
  /** Corruption branches side by side (lineages whose compare artifact has them). */
  branches?: ReportBranch[];
  cmap: ReportCmap[];
  /** What could not be read (shown in the report instead of failing it). */
  warnings: string[];
}

/** Checks the outer shape of parsed ReportData (e.g. a --from-json file); throws naming the first bad field. */
export function checkReportData(value: unknown, where: string): ReportData {
  const fail = (field: string, expected: string): never => {
    throw new Error(`${where}: field '${field}' ${expected}`);
  };
  if (!value || typeof value !== 'object') fail('(root)', 'must be a JSON object');
  const v = value as Record<string, unknown>;
  if (v.schema !== REPORT_DATA_SCHEMA) fail('schema', `must be '${REPORT_DATA_SCHEMA}' (got ${JSON.stringify(v.schema)})`);
  if (v.version !== REPORT_DATA_VERSION) fail('version', `must be ${REPORT_DATA_VERSION} (got ${JSON.stringify(v.version)})`);
  const lineage = v.lineage as Record<string, unknown> | undefined;
  if (!lineage || typeof lineage !== 'object') fail('lineage', 'must be an object');
  if (typeof lineage!.name !== 'string') fail('lineage.name', 'must be a string');
  for (const key of ['stages', 'edges', 'lossCurves', 'traces', 'methods', 'headMaps', 'diffs', 'cmap', 'warnings']) {
    if (!Array.isArray(v[key])) fail(key, 'must be an array');
  }
  (v.stages as Record<string, unknown>[]).forEach((s, i) => {
    if (typeof s?.name !== 'string') fail(`stages[${i}].name`, 'must be a string');
    if (typeof s?.status !== 'string') fail(`stages[${i}].status`, 'must be a string');
    if (!Array.isArray(s?.artifacts)) fail(`stages[${i}].artifacts`, 'must be an array');
  });
  const model = v.model as { nLayer?: unknown; nHead?: unknown } | undefined;
  if ((v.headMaps as unknown[]).length && !model) fail('model', 'must give nLayer and nHead when there are head maps');
  if (model) {
    if (!Number.isInteger(model.nLayer) || (model.nLayer as number) < 1) fail('model.nLayer', 'must be a positive integer');
    if (!Number.isInteger(model.nHead) || (model.nHead as number) < 1) fail('model.nHead', 'must be a positive integer');
    const cells = (model.nLayer as number) * (model.nHead as number);
    (v.headMaps as MethodMaps[]).forEach((m, i) =>
      m.stages.forEach((s, j) => {
        if (!Array.isArray(s.values) || s.values.length !== cells) fail(`headMaps[${i}].stages[${j}].values`, `must hold ${cells} numbers (layer × head)`);
      }),
    );
  }
  return value as ReportData;
}
