// Client-side helpers for lineages (used by the CLI and the tests): start one (workflow id, search attributes, UI
// summary, memo), read its progress (query + pending activity heartbeats), cancel it, and resume a failed,
// cancelled, terminated or timed-out one as a new run that reuses every completed stage.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Client, WorkflowHandle } from '@temporalio/client';
import type { temporal } from '@temporalio/proto';
import type { LoadedConfig } from '../config/load';
import { corruptVariantName } from '../config/branch-name';
import type { ExperimentConfig } from '../config/schema';
import {
  LINEAGE_WORKFLOW_TYPE,
  lineageWorkflowId,
  progressQuery,
  taskQueues,
  type LineageInput,
  type LineageOptions,
  type LineageProgress,
  type LineageQueues,
  type LineageResult,
  type ResumeCheckpoint,
  type StageOutput,
  type TrainHeartbeatDetails,
} from '../contract/lineage';
import type { lineageWorkflow } from '../workflows/lineage';
import { experimentKey, modelKey, progressKey, stageKey } from './search-attributes';
import { projectRoot } from './project-root';

export type LineageHandle = WorkflowHandle<typeof lineageWorkflow>;

export interface StartLineageOptions {
  /** Task queues, or a prefix for them (default 'plasticity'). */
  queues?: LineageQueues | string;
  /** Default: codeVersion() of this checkout. */
  codeVersion?: string;
  /** Default: lineageWorkflowId(name, hash) with a timestamp suffix. */
  workflowId?: string;
  reuse?: LineageInput['reuse'];
  options?: LineageOptions;
  /** Extra memo fields (the config hash, store and code version are always set). */
  memo?: Record<string, unknown>;
  /** Set when the lineage is a fork of another (temporal/fork-client.ts). */
  forkOf?: LineageInput['forkOf'];
}

export interface StartedLineage {
  workflowId: string;
  runId: string;
  handle: LineageHandle;
  input: LineageInput;
}

/** Starts a lineage workflow for a loaded (validated) config. */
export async function startLineage(client: Client, loaded: LoadedConfig, opts: StartLineageOptions = {}): Promise<StartedLineage> {
  const queues = typeof opts.queues === 'object' ? opts.queues : taskQueues(opts.queues);
  const input: LineageInput = {
    config: loaded.config,
    configHash: loaded.hash,
    codeVersion: opts.codeVersion ?? codeVersion(),
    queues,
    ...(opts.reuse ? { reuse: opts.reuse } : {}),
    ...(opts.options ? { options: opts.options } : {}),
    ...(opts.forkOf ? { forkOf: opts.forkOf } : {}),
  };
  const workflowId = opts.workflowId ?? lineageWorkflowId(loaded.config.name, loaded.hash);
  const handle = await client.workflow.start<typeof lineageWorkflow>(LINEAGE_WORKFLOW_TYPE, {
    workflowId,
    taskQueue: queues.orchestrator,
    args: [input],
    typedSearchAttributes: [
      { key: experimentKey, value: loaded.config.name },
      { key: modelKey, value: modelLabel(loaded.config) },
      { key: stageKey, value: 'pending' },
      { key: progressKey, value: 0 },
    ],
    staticSummary: lineageSummary(loaded.config).slice(0, 200),
    staticDetails: `config hash \`${loaded.hash}\`, code \`${input.codeVersion}\`, store \`${loaded.config.store}\`${opts.reuse?.from ? `, resumed from \`${opts.reuse.from}\`` : ''}`,
    memo: { configHash: loaded.hash, store: loaded.config.store, codeVersion: input.codeVersion, ...(opts.reuse?.from ? { resumedFrom: opts.reuse.from } : {}), ...opts.memo },
  });
  return { workflowId, runId: handle.firstExecutionRunId, handle, input };
}

/** One line for the UI's workflow list. */
export function lineageSummary(config: ExperimentConfig): string {
  return `${config.name}: ${modelLabel(config)} → finetune e${config.finetune.epochs.join('/')} → corrupt (${(Array.isArray(config.corrupt) ? config.corrupt : [config.corrupt]).map((v) => corruptVariantName(v)).join(', ')}) → retrain → compare`;
}

export function modelLabel(config: ExperimentConfig): string {
  const m = config.model;
  if (m.source === 'pretrain') return `pretrain:${m.arch.n_layer}L-${m.arch.d_model}d-${m.arch.n_head}h`;
  return `${m.source}:${path.basename(m.path)}`;
}

/** `<package version>+<git commit>` of this checkout (just the version outside git). Keys the stage cache. */
export function codeVersion(): string {
  const root = projectRoot();
  const version = (JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string }).version;
  try {
    const commit = execFileSync('git', ['rev-parse', '--short=12', 'HEAD'], { cwd: root, stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim();
    return commit ? `${version}+${commit}` : version;
  } catch {
    return version;
  }
}

// ── Progress ────────────────────────────────────────────────────────────────────────────────────────────────────

export interface PendingActivity {
  activityType: string;
  attempt: number;
  state: string;
  /** Decoded heartbeat details (train stages: {step, total, checkpoint, loss}). */
  heartbeat?: TrainHeartbeatDetails;
  lastFailure?: string;
}

export interface LineageStatusReport {
  workflowId: string;
  runId: string;
  /** Temporal's status: RUNNING, COMPLETED, FAILED, CANCELLED, TERMINATED, TIMED_OUT, CONTINUED_AS_NEW. */
  status: string;
  startTime: Date;
  closeTime?: Date;
  /** The workflow's own progress (absent when it cannot be queried, e.g. no worker for a closed run). */
  progress?: LineageProgress;
  pendingActivities: PendingActivity[];
  /** The failure message of a failed run. */
  failure?: string;
}

/** Status, progress and pending-activity heartbeats of a lineage. `queryTimeoutMs` bounds the progress query. */
export async function lineageStatus(client: Client, workflowId: string, opts: { queryTimeoutMs?: number } = {}): Promise<LineageStatusReport> {
  const handle = client.workflow.getHandle<typeof lineageWorkflow>(workflowId);
  const d = await handle.describe();
  const converter = client.options.loadedDataConverter.payloadConverter;
  const pendingActivities: PendingActivity[] = (d.raw.pendingActivities ?? []).map((a) => ({
    activityType: a.activityType?.name ?? '?',
    attempt: a.attempt ?? 1,
    state: String(a.state ?? ''),
    ...(a.heartbeatDetails?.payloads?.length ? { heartbeat: converter.fromPayload(a.heartbeatDetails.payloads[0]) as TrainHeartbeatDetails } : {}),
    ...(a.lastFailure?.message ? { lastFailure: a.lastFailure.message } : {}),
  }));
  let progress: LineageProgress | undefined;
  try {
    progress = await withTimeout(handle.query(progressQuery), opts.queryTimeoutMs ?? 5000);
  } catch {
    progress = undefined; // no worker to answer (closed run) or the query timed out
  }
  let failure: string | undefined;
  if (d.status.name === 'FAILED') failure = await handle.result().then(() => undefined, (err: Error) => failureMessage(err));
  return {
    workflowId,
    runId: d.runId,
    status: d.status.name,
    startTime: d.startTime,
    ...(d.closeTime ? { closeTime: d.closeTime } : {}),
    ...(progress ? { progress } : {}),
    pendingActivities,
    ...(failure ? { failure } : {}),
  };
}

/** The Web UI's "current details" markdown of a running workflow (from the built-in metadata query). */
export async function currentDetails(client: Client, workflowId: string): Promise<string | undefined> {
  const meta = (await client.workflow.getHandle(workflowId).query('__temporal_workflow_metadata')) as temporal.api.sdk.v1.IWorkflowMetadata;
  return meta.currentDetails ?? undefined;
}

/** Requests cancellation: the running stage stops at a step boundary and keeps its checkpoint. */
export async function cancelLineage(client: Client, workflowId: string): Promise<void> {
  await client.workflow.getHandle(workflowId).cancel();
}

export async function lineageResult(client: Client, workflowId: string): Promise<LineageResult> {
  return client.workflow.getHandle<typeof lineageWorkflow>(workflowId).result();
}

// ── Resume ──────────────────────────────────────────────────────────────────────────────────────────────────────

export const RESUMABLE_STATUSES = ['FAILED', 'CANCELLED', 'TERMINATED', 'TIMED_OUT'];

export interface ReusableStages {
  /** The original run's input. */
  input: LineageInput;
  reuse: NonNullable<LineageInput['reuse']>;
}

/**
 * Reads a run's history: its input, every completed stage's output, and the interrupted train stage (scheduled,
 * never completed) with its newest checkpoint in the store, if the store can be opened here.
 */
export async function collectReusable(client: Client, workflowId: string, runId?: string): Promise<ReusableStages> {
  const history = await client.workflow.getHandle(workflowId, runId).fetchHistory();
  const converter = client.options.loadedDataConverter.payloadConverter;
  const events = history.events ?? [];
  const started = events[0]?.workflowExecutionStartedEventAttributes;
  if (!started?.input?.payloads?.length) throw new Error(`workflow ${workflowId}: its history has no start input`);
  const input = converter.fromPayload(started.input.payloads[0]) as LineageInput;

  const scheduled = new Map<string, { type: string; input: unknown }>();
  const completed = new Set<string>();
  const stages: Record<string, StageOutput> = { ...(input.reuse?.stages ?? {}) };
  for (const e of events) {
    const id = String(e.eventId);
    const s = e.activityTaskScheduledEventAttributes;
    if (s) scheduled.set(id, { type: s.activityType?.name ?? '', input: s.input?.payloads?.length ? converter.fromPayload(s.input.payloads[0]) : undefined });
    const c = e.activityTaskCompletedEventAttributes;
    if (c) {
      const sid = String(c.scheduledEventId);
      completed.add(sid);
      const result = c.result?.payloads?.length ? converter.fromPayload(c.result.payloads[0]) : undefined;
      const output = stageOutputOf(scheduled.get(sid)?.type ?? '', result);
      if (output) stages[output.stage] = output;
    }
  }
  let lastCheckpoint: ResumeCheckpoint | undefined;
  const interrupted = [...scheduled.entries()].filter(([id, s]) => s.type === 'trainStage' && !completed.has(id)).pop()?.[1];
  const trainInput = interrupted?.input as { stage: string; key: string; store: string } | undefined;
  if (trainInput) lastCheckpoint = await findCheckpoint(trainInput).catch(() => undefined);
  return { input, reuse: { from: workflowId, stages, ...(lastCheckpoint ? { lastCheckpoint } : {}) } };
}

function stageOutputOf(activityType: string, result: unknown): StageOutput | undefined {
  if (!result || typeof result !== 'object') return undefined;
  if (activityType === 'trainStage' || activityType === 'traceStage' || activityType === 'compareStage') return result as StageOutput;
  if (activityType === 'importModel') return (result as { output: StageOutput }).output;
  if (activityType === 'lookupStage') return (result as { cached?: StageOutput }).cached;
  return undefined;
}

async function findCheckpoint(train: { stage: string; key: string; store: string }): Promise<ResumeCheckpoint | undefined> {
  const { openStore } = await import('../store/open');
  const { latestCheckpoint } = await import('../checkpoint/series');
  const { checkpointSeries } = await import('../checkpoint/store');
  const latest = await latestCheckpoint(openStore(train.store), checkpointSeries(train.key));
  return latest ? { stage: train.stage, key: train.key, step: latest.step, manifest: latest.key } : undefined;
}

export interface ResumedLineage extends StartedLineage {
  reused: string[];
  lastCheckpoint?: ResumeCheckpoint;
}

/** Starts a new run of a stopped lineage that reuses its completed stages and the interrupted stage's checkpoint. */
export async function resumeLineage(
  client: Client,
  workflowId: string,
  opts: { workflowId?: string; options?: LineageOptions; queues?: LineageQueues | string } = {},
): Promise<ResumedLineage> {
  const d = await client.workflow.getHandle(workflowId).describe();
  if (!RESUMABLE_STATUSES.includes(d.status.name)) {
    throw new Error(`lineage ${workflowId} is ${d.status.name}; only ${RESUMABLE_STATUSES.join(', ').toLowerCase()} runs can be resumed`);
  }
  const { input, reuse } = await collectReusable(client, workflowId, d.runId);
  const loaded: LoadedConfig = { config: input.config, hash: input.configHash, source: `(resumed from ${workflowId})` };
  const started = await startLineage(client, loaded, {
    queues: opts.queues ?? input.queues,
    codeVersion: input.codeVersion,
    workflowId: opts.workflowId,
    reuse,
    options: opts.options ?? input.options,
    ...(input.forkOf ? { forkOf: input.forkOf } : {}),
  });
  return { ...started, reused: Object.keys(reuse.stages), ...(reuse.lastCheckpoint ? { lastCheckpoint: reuse.lastCheckpoint } : {}) };
}

/** The workflow's own failure message (WorkflowFailedError wraps it as its cause). */
function failureMessage(err: Error): string {
  return (err as { cause?: Error }).cause?.message || err.message;
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
    p.then((v) => (clearTimeout(t), resolve(v)), (e) => (clearTimeout(t), reject(e)));
  });
}
