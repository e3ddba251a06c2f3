// The sweep contract: one parent workflow (workflows/sweep.ts) runs every point of a grid as a child lineage
// workflow. Importable from workflow code (message definitions and type-only imports) and from plain Node.
import { defineQuery } from '@temporalio/workflow';
import type { ExperimentConfig } from '../config/schema';
import type { LineageInput, LineageOptions, LineageProgress, LineageQueues, LineageResult } from './lineage';
import type { ArtifactRef } from '../store/artifact-ref';

export const SWEEP_WORKFLOW_TYPE = 'sweepWorkflow';

/** One grid point: the overrides that make it (`seed=1`, `corrupt.rate=0.5`) and its loaded config. */
export interface SweepPoint {
  index: number;
  /** `seed=1,corrupt.rate=0.5` (the overrides, in grid order). */
  label: string;
  overrides: string[];
  config: ExperimentConfig;
  configHash: string;
}

export interface SweepInput {
  name: string;
  points: SweepPoint[];
  /** Child lineages running at once. */
  concurrency: number;
  codeVersion: string;
  queues: LineageQueues;
  options?: LineageOptions;
  /** Resume: results of points a previous run of this sweep completed (by point index). */
  done?: Record<number, LineageResult>;
  /** Resume: per point, what the interrupted child lineage left (completed stages, checkpoint). */
  reuse?: Record<number, NonNullable<LineageInput['reuse']>>;
  /** Workflow id of the sweep run this one resumes. */
  resumedFrom?: string;
}

export type SweepPointStatus = 'pending' | 'waiting' | 'running' | 'completed' | 'failed' | 'cancelled';

export interface SweepPointState {
  index: number;
  label: string;
  status: SweepPointStatus;
  workflowId?: string;
  /** Why a pending point waits: the running points it shares a stage still to compute with. */
  waitingFor?: number[];
  error?: string;
  result?: LineageResult;
}

export interface SweepProgress {
  name: string;
  status: 'running' | 'completed' | 'failed' | 'cancelled';
  points: SweepPointState[];
}

export interface SweepResult {
  name: string;
  points: SweepPointState[];
  /** The aggregate: HTML report, JSON and CSV (when at least one point completed). */
  report?: ArtifactRef;
  json?: ArtifactRef;
  csv?: ArtifactRef;
  storeUrl?: string;
  /** Why the aggregate could not be written. */
  reportError?: string;
}

// ── The sweep's activities ──────────────────────────────────────────────────────────────────────────────────────

export interface SweepStageKeysInput {
  points: { index: number; config: ExperimentConfig }[];
  codeVersion: string;
}

export interface SweepReportInput {
  name: string;
  sweepId?: string;
  points: SweepPointState[];
  configs: { index: number; overrides: string[]; config: ExperimentConfig }[];
}

/** Per point: stage keys the point would compute (not in the store yet). Two points sharing one must not overlap. */
export interface SweepStageKeys {
  index: number;
  missing: string[];
}

export const sweepProgressQuery = defineQuery<SweepProgress>('sweepProgress');

/** `sweep-<name>-<yyyymmddThhmmss>`. */
export function sweepWorkflowId(name: string, suffix?: string): string {
  const safeName = name.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^-+|-+$/g, '') || 'sweep';
  const stamp = suffix ?? new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, '');
  return `sweep-${safeName}-${stamp}`;
}

/** The child lineage of point `index` of a sweep run. */
export function sweepChildId(sweepId: string, index: number): string {
  return `${sweepId}-p${index}`;
}

/** Progress of a child as the sweep's status shows it. */
export type SweepChildProgress = LineageProgress;
