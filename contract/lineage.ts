// The lineage contract shared by the workflow, its activities, the workers and the CLI: task queues, the workflow's
// input and result, stage progress, and the `progress` query. Importable from workflow code (sandbox-safe: only
// `@temporalio/workflow` message definitions and type-only imports) and from plain Node (CLI, tests).
import type { Duration } from '@temporalio/common';
import { defineQuery, defineSignal } from '@temporalio/workflow';
import type { ExperimentConfig } from '../config/schema';
import { DETERMINISTIC_FAILURE_TYPES } from '../errors/deterministic';
import type { ArtifactRef } from '../store/artifact-ref';

// ── Task queues ─────────────────────────────────────────────────────────────────────────────────────────────────

/** The three worker roles: workflows only; heavy ML activities (one at a time); light activities. */
export const QUEUE_ROLES = ['orchestrator', 'gpu', 'cpu'] as const;
export type QueueRole = (typeof QUEUE_ROLES)[number];
export type LineageQueues = Record<QueueRole, string>;

export const DEFAULT_QUEUE_PREFIX = 'plasticity';

/** Task-queue names for a prefix: `<prefix>-orchestrator`, `<prefix>-gpu`, `<prefix>-cpu` (tests use unique prefixes). */
export function taskQueues(prefix: string = DEFAULT_QUEUE_PREFIX): LineageQueues {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(prefix)) {
    throw new Error(`task queue prefix "${prefix}": expected letters, digits, '.', '_' or '-'`);
  }
  return { orchestrator: `${prefix}-orchestrator`, gpu: `${prefix}-gpu`, cpu: `${prefix}-cpu` };
}

/** The workflow type name (the exported function in workflows/lineage.ts). */
export const LINEAGE_WORKFLOW_TYPE = 'lineageWorkflow';

/** `lineage-<name>-<first 8 hex of the config hash>-<suffix>`; suffix defaults to a UTC timestamp (yyyymmddThhmmss). */
export function lineageWorkflowId(name: string, configHash: string, suffix?: string): string {
  const safeName = name.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^-+|-+$/g, '') || 'lineage';
  const stamp = suffix ?? new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, '');
  return `lineage-${safeName}-${configHash.slice(0, 8)}-${stamp}`;
}

// ── Stages ──────────────────────────────────────────────────────────────────────────────────────────────────────

/**
 * What a stage does. Stage *names* are: `validate`, `base` (loads or pretrains), `finetune`, `corrupt`, `retrain`
 * (train stages), `trace-<model>` with model = base, finetune-e<epochs>, corrupt, retrain (one per traced
 * checkpoint), `compare`, and later `report`.
 */
export type StageKind = 'validate' | 'base' | 'train' | 'trace' | 'compare' | 'report';

export type StageStatus = 'pending' | 'running' | 'done' | 'cached' | 'failed' | 'cancelled';

/** A stage's output: what it stored (artifact references) and small metrics, plus the same refs by name (e.g. checkpoint, epoch-2, trace). */
export interface StageOutput {
  stage: string;
  /** Stage cache key. */
  key: string;
  artifacts: ArtifactRef[];
  metrics: Record<string, number>;
  startedAt: string;
  finishedAt: string;
  kind: StageKind;
  /** Named outputs; `artifacts` lists the same refs. Train stages: `checkpoint` (final) and `epoch-<n>` (finetune). */
  outputs: Record<string, ArtifactRef>;
  /** For checkpoint outputs: output name → sha256 of its model.safetensors (the parent identity of later stages). */
  weights?: Record<string, string>;
}

export interface StageProgress {
  stage: string;
  kind: StageKind;
  status: StageStatus;
  /** The corruption branch of a corrupt/retrain stage or its trace (lineages with several `corrupt` variants). */
  branch?: string;
  /** Training step (or trace unit) done so far, and the total. */
  step?: number;
  total?: number;
  loss?: number;
  etaSeconds?: number;
  /** Attempt number of the running activity (1 = first try). */
  attempt?: number;
  /** Step a retried/resumed attempt started from (> 0 when it resumed from a checkpoint). */
  resumedFromStep?: number;
  /** Store key of the newest durable checkpoint manifest of this stage. */
  checkpoint?: string;
  startedAt?: string;
  finishedAt?: string;
  /** Stage cache key, once known. */
  key?: string;
  /** Failure or cancellation message. */
  error?: string;
  /** While a retried attempt runs: why the previous attempt failed. */
  lastError?: string;
}

export type LineageStatus = 'running' | 'completed' | 'failed' | 'cancelled';

export interface LineageProgress {
  name: string;
  configHash: string;
  status: LineageStatus;
  /** Stage currently running (undefined between stages and at the end). */
  current?: string;
  /** 0..1, stages weighted by their expected cost. */
  fraction: number;
  stages: StageProgress[];
  startedAt: string;
  finishedAt?: string;
}

/** Sent by running stage activities (at a doubling interval, 5 s up to 10 min: activities/progress.ts) so the workflow's query and UI details stay live. */
export interface StageHeartbeat {
  stage: string;
  step: number;
  total: number;
  loss?: number;
  etaSeconds?: number;
  checkpoint?: string;
  attempt: number;
  resumedFromStep?: number;
  /** The previous attempt's error (sent by retried attempts). */
  lastError?: string;
}

/** Heartbeat details of train activities (readable JSON in the Web UI's pending activities). */
export interface TrainHeartbeatDetails {
  step: number;
  total: number;
  /** Store key of the newest durable checkpoint manifest (only heartbeated after it is written). */
  checkpoint?: string;
  loss?: number;
}

// ── Workflow input and result ───────────────────────────────────────────────────────────────────────────────────

/**
 * The newest checkpoint of the stage a stopped run was in (for display and logs). A resumed run does not need it to
 * continue: the interrupted stage has the same stage key, and its activity resumes from the newest checkpoint under
 * that key in the store.
 */
export interface ResumeCheckpoint {
  stage: string;
  /** Stage cache key of the interrupted stage (its checkpoints live under that key). */
  key: string;
  step: number;
  /** Store key of the checkpoint manifest. */
  manifest: string;
}

/** Orchestration knobs (not part of the experiment, so not in the config hash). */
export interface LineageOptions {
  /** Heartbeat timeout of ML activities: how fast a dead worker is noticed (default '60s'). */
  heartbeatTimeout?: Duration;
  /** Initial retry interval of ML activities (default '5s'). */
  retryInitialInterval?: Duration;
  /** Maximum attempts of ML activities (default 20). */
  maxAttempts?: number;
  /** First interval between progress signals of a running activity (default 5000); it doubles up to 120× (activities/progress.ts). */
  progressIntervalMs?: number;
}

export interface LineageInput {
  /** The validated experiment config (config/schema.ts); the workflow re-validates it in its first activity. */
  config: ExperimentConfig;
  /** sha256 (hex) of the canonical config JSON (config/load.ts `configHash`). */
  configHash: string;
  /** Code version that keys the stage cache (e.g. package version + git commit). */
  codeVersion: string;
  queues: LineageQueues;
  /** Results a resumed run may reuse (checked against the stage keys and the store before use). */
  reuse?: {
    /** Workflow id of the run being resumed. */
    from?: string;
    stages: Record<string, StageOutput>;
    lastCheckpoint?: ResumeCheckpoint;
  };
  options?: LineageOptions;
  /** A fork: the lineage whose stages before `stage` this one reuses (and diverges from at `stage`). */
  forkOf?: ForkOf;
}

export interface ForkOf {
  workflowId: string;
  stage: string;
  /** The overrides that make the fork. */
  set: string[];
}

export interface LineageResult {
  name: string;
  configHash: string;
  /** Every stage's output by stage name, in lineage order. */
  stages: Record<string, StageOutput>;
  /** Per stage: 'done' (computed by this run) or 'cached' (reused). */
  statuses: Record<string, 'done' | 'cached'>;
  compare: ArtifactRef;
  report?: ArtifactRef;
  /** Small headline numbers, e.g. `logit_diff.finetune`, `localisation.top_k_share`, `restoration.behavioural`. */
  headline: Record<string, number>;
  storeUrl: string;
  startedAt: string;
  finishedAt: string;
  /** Set on a fork: its parent lineage. */
  forkOf?: ForkOf;
}

/** Failure types that are never retried: bad config or data, corrupted blobs, a store we may not write (errors/deterministic.ts). */
export const NON_RETRYABLE_ERROR_TYPES: string[] = [...DETERMINISTIC_FAILURE_TYPES];

// ── Messages ────────────────────────────────────────────────────────────────────────────────────────────────────

/** Live lineage progress (stage list with status; step, loss and ETA of the running stage). */
export const progressQuery = defineQuery<LineageProgress>('progress');

/** Internal: running activities report step progress to their workflow with this signal. */
export const stageHeartbeatSignal = defineSignal<[StageHeartbeat]>('stageHeartbeat');
