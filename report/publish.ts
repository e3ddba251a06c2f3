// Publishing a lineage's report into its store: collect the report data, render report.html, and store both as blobs
// (kinds 'report' and 'report-data') with an index at reports/<workflow id>.json. A library (no Temporal import):
// the report stage's activity (activities/report.ts) calls buildAndStoreReportWithData with what the workflow knows.
import type { ArtifactStore } from '../store/artifact-store';
import type { LineageProgress, StageOutput } from '../contract/lineage';
import type { ArtifactRef } from '../store/artifact-ref';
import { collectReportData } from './collect';
import type { ReportData } from './data';
import { renderReport } from './render';
import { writeReportIndex } from './store-index';

export interface ReportActivityInput {
  /** The lineage's workflow id (the store index key; shown in the header). */
  workflowId?: string;
  name: string;
  configHash: string;
  codeVersion: string;
  /** The experiment config as run. */
  config: unknown;
  /** Every completed stage's output by name, in lineage order. */
  stages: Record<string, StageOutput>;
  statuses?: Record<string, 'done' | 'cached'>;
  /** The workflow's progress snapshot (gives the stage list with pending/failed stages). */
  progress?: LineageProgress;
  /** The compare stage's artifact (default: stages.compare.outputs.compare). */
  compare?: ArtifactRef;
  headline?: Record<string, number>;
  /** Default 'completed'. */
  status?: string;
  startedAt: string;
  finishedAt?: string;
  uiUrl?: string;
  /** A fork's parent lineage (linked in the header). */
  forkOf?: { workflowId: string; stage: string; set: string[] };
}

export interface StoredReport {
  report: ArtifactRef;
  data: ArtifactRef;
  /** Store key of the index (when a workflow id was given). */
  index?: string;
}

/** Collects, renders and stores the report; returns the refs of report.html and its ReportData, and the index key. */
export async function buildAndStoreReportWithData(store: ArtifactStore, input: ReportActivityInput): Promise<StoredReport> {
  const finishedAt = input.finishedAt ?? new Date().toISOString();
  const data = await collectReportData(store, {
    workflowId: input.workflowId,
    name: input.name,
    configHash: input.configHash,
    codeVersion: input.codeVersion,
    config: input.config,
    stages: input.stages,
    statuses: input.statuses,
    progress: input.progress && reportStageDone(input.progress, finishedAt),
    compare: input.compare,
    headline: input.headline,
    status: input.status ?? 'completed',
    startedAt: input.startedAt,
    finishedAt,
    uiUrl: input.uiUrl,
    forkOf: input.forkOf,
  });
  return storeReport(store, data);
}

/** The running report stage is the one writing this report: it shows as done. */
function reportStageDone(progress: LineageProgress, finishedAt: string): LineageProgress {
  return {
    ...progress,
    stages: progress.stages.map((s) => (s.kind === 'report' && s.status === 'running' ? { ...s, status: 'done', finishedAt } : s)),
  };
}

/** Renders ReportData and stores the HTML, the data and (with a workflow id) the index. */
export async function storeReport(store: ArtifactStore, data: ReportData): Promise<StoredReport> {
  const html = renderReport(data);
  const dataRef = await store.putBlob(Buffer.from(JSON.stringify(data)), 'report-data');
  const report = await store.putBlob(Buffer.from(html, 'utf8'), 'report');
  const index = data.lineage.id
    ? await writeReportIndex(store, { workflowId: data.lineage.id, name: data.lineage.name, report, data: dataRef, createdAt: data.generatedAt })
    : undefined;
  return { report, data: dataRef, ...(index ? { index } : {}) };
}
