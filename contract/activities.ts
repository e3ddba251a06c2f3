// The lineage activities' inputs and results: what the workflow (and the local runner, lineage/local.ts) sends to
// each activity and gets back. Type-only imports, so workflow code may import it; activities/ implements it.
import type { ExperimentConfig } from '../config/schema';
import type { BackendPreference } from '../model/engine';
import type { ReportActivityInput } from '../report/publish';
import type { ArtifactRef } from '../store/artifact-ref';
import type { BranchRoles } from '../tracing/compare';
import type { StageRole } from '../tracing/results';
import type { ArchInput, DataSpec, TrainConfigInput } from '../train/config';
import type { StageKind, StageOutput } from './lineage';

// ── validateConfig ──────────────────────────────────────────────────────────────────────────────────────────────

export interface ValidateConfigInput {
  config: unknown;
}

export interface ValidateConfigResult {
  /** The store's canonical URL (file:///… or s3://…). */
  storeUrl: string;
}

// ── lookupStage: the stage cache ────────────────────────────────────────────────────────────────────────────────

export interface StageKeyInput {
  kind: StageKind;
  /** Identities of what the stage starts from (sha256 of parent weights or artifacts), in a fixed order. */
  parents: string[];
  /** Everything in the config that changes the stage's output. */
  config: unknown;
  codeVersion: string;
}

export interface LookupStageInput extends StageKeyInput {
  stage: string;
  store: string;
  /** A result offered by a resumed run; used when its key matches and its blobs are in the store. */
  candidate?: StageOutput;
}

export interface LookupStageResult {
  key: string;
  /** The reusable result, renamed to this stage, when the store holds one. */
  cached?: StageOutput;
}

// ── importModel: the base stage of a model folder ───────────────────────────────────────────────────────────────

export interface ImportModelInput {
  stage: string;
  store: string;
  model: { source: 'hf' | 'checkpoint'; path: string };
  codeVersion: string;
}

export interface ImportModelResult {
  output: StageOutput;
  cached: boolean;
}

// ── trainStage ──────────────────────────────────────────────────────────────────────────────────────────────────

export interface InitFrom {
  arch: ArchInput;
  seed: number;
  vocab: 'ioi';
}

export interface TrainStageInput {
  stage: string;
  /** Stage cache key: checkpoints live under stages/<key>/checkpoints, the result at stages/<key>/result.json. */
  key: string;
  /** Store URL (file:///… or s3://…). */
  store: string;
  backend: BackendPreference;
  /** A checkpoint in the store, or a fresh initialisation (pretraining). */
  from: { checkpoint: ArtifactRef } | { init: InitFrom };
  data: DataSpec;
  /** Train config with `steps` set (the stage's epochs converted by the workflow). */
  train: TrainConfigInput;
  checkpointEvery: number;
  /** Checkpoints kept besides the marked and final ones. */
  retention: number;
  /** Named checkpoints to keep as outputs: output name → step (e.g. {'epoch-1': 16}); the final one is `checkpoint`. */
  marks?: Record<string, number>;
  /** Numbers copied into the result's metrics (e.g. epochs). */
  metrics?: Record<string, number>;
  progressIntervalMs?: number;
}

// ── traceStage ──────────────────────────────────────────────────────────────────────────────────────────────────

export interface TraceStageInput {
  stage: string;
  key: string;
  store: string;
  backend: BackendPreference;
  /** Name of the traced model in the trace JSON (e.g. 'finetune-e2'). */
  label: string;
  role: StageRole;
  checkpoint: ArtifactRef;
  /** CMAP donor: the previous model in the lineage. */
  donor?: { label: string; checkpoint: ArtifactRef };
  trace: ExperimentConfig['trace'];
  progressIntervalMs?: number;
}

// ── compareStage ────────────────────────────────────────────────────────────────────────────────────────────────

export interface CompareStageInput {
  stage: string;
  key: string;
  store: string;
  /** Trace artifacts in lineage order. */
  traces: { label: string; trace: ArtifactRef; cmap?: ArtifactRef }[];
  /** Labels of the clean (corrupted-from), corrupted and retrained models. */
  roles: { clean: string; corrupted: string; retrained: string };
  /** Every corruption branch's triple, compared side by side (tracing/compare.ts compareBranches). */
  branches?: BranchRoles[];
  topK: number;
}

// ── reportStage ─────────────────────────────────────────────────────────────────────────────────────────────────

export interface ReportStageInput extends Omit<ReportActivityInput, 'workflowId' | 'uiUrl'> {
  store: string;
}

export interface ReportStageResult {
  report: ArtifactRef;
  data: ArtifactRef;
}
