// The state of one lineage run as the CLI shows it: Temporal's execution status and search attributes, the live
// `progress` query when a worker can answer it, the result of a completed run and the failure of a failed one.
import type { Client, WorkflowExecutionDescription, WorkflowExecutionStatusName, WorkflowHandle } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import { progressQuery, type LineageProgress, type LineageResult, type StageProgress } from '../contract/lineage';
import { experimentKey, modelKey, progressKey, stageKey } from '../temporal/search-attributes';
import { asCliError, describeRun } from './temporal-access';

export interface RunState {
  workflowId: string;
  runId: string;
  status: WorkflowExecutionStatusName;
  workflowType: string;
  taskQueue: string;
  startTime: string;
  closeTime?: string;
  /** Search attributes the workflow keeps up to date. */
  experiment?: string;
  model?: string;
  stage?: string;
  fraction?: number;
  /** Stage-level progress: from the query, or rebuilt from the result of a completed run. */
  progress?: LineageProgress;
  progressSource?: 'query' | 'result';
  result?: LineageResult;
  /**
   * Why a closed run did not complete (the innermost failure message); for a running one, the last failed attempt's
   * error of an activity Temporal is retrying.
   */
  failure?: string;
  /** Activities of a running run that Temporal has started (live step/loss, attempts, the last attempt's error). */
  pending?: PendingActivity[];
}

/** One pending activity of a running lineage, from Temporal's describe (no worker or query needed). */
export interface PendingActivity {
  activity: string;
  attempt: number;
  /** SCHEDULED (waiting for a worker or a retry backoff), STARTED, CANCEL_REQUESTED. */
  state: string;
  /** The last failed attempt's error (innermost message), e.g. a stage error or "activity Heartbeat timeout". */
  lastFailure?: string;
  /** Seconds since the running attempt last heartbeated. */
  heartbeatAgeSeconds?: number;
  /** The last heartbeat's details (train stages: {step, total, loss, checkpoint}). */
  details?: Record<string, unknown>;
}

/** The pending activities of a description (decoded heartbeat details and last failures). */
export function pendingActivities(d: WorkflowExecutionDescription, now = Date.now()): PendingActivity[] {
  const out: PendingActivity[] = [];
  for (const p of d.raw.pendingActivities ?? []) {
    const state = String(p.state ?? '').replace(/^PENDING_ACTIVITY_STATE_/, '') || 'UNKNOWN';
    const item: PendingActivity = { activity: p.activityType?.name ?? '?', attempt: p.attempt ?? 1, state: /^\d+$/.test(state) ? (['UNSPECIFIED', 'SCHEDULED', 'STARTED', 'CANCEL_REQUESTED', 'PAUSED', 'PAUSE_REQUESTED'][Number(state)] ?? state) : state };
    if (p.lastFailure) item.lastFailure = innermostMessage(p.lastFailure);
    const beat = p.lastHeartbeatTime?.seconds;
    if (beat !== undefined && beat !== null && item.state === 'STARTED') item.heartbeatAgeSeconds = Math.max(0, Math.round(now / 1000 - Number(beat)));
    const payload = p.heartbeatDetails?.payloads?.[0];
    if (payload) {
      try {
        const value = defaultPayloadConverter.fromPayload(payload as never);
        if (value && typeof value === 'object') item.details = value as Record<string, unknown>;
      } catch {
        // details in a format we do not read: leave them out
      }
    }
    out.push(item);
  }
  return out;
}

/**
 * The running stage's step, total and loss from its activity's heartbeat details when they are newer than the
 * workflow's own (the workflow hears of progress only every few minutes on long stages, to keep its history small).
 */
export function withLiveDetails(progress: LineageProgress, pending: readonly PendingActivity[]): LineageProgress {
  const current = progress.stages.find((s) => s.status === 'running');
  const live = pending.find((p) => p.state === 'STARTED' && typeof p.details?.step === 'number')?.details;
  if (!current || !live || (current.step ?? -1) >= (live.step as number)) return progress;
  const stages = progress.stages.map((s) =>
    s === current
      ? { ...s, step: live.step as number, ...(typeof live.total === 'number' ? { total: live.total } : {}), ...(typeof live.loss === 'number' ? { loss: live.loss } : {}) }
      : s,
  );
  return { ...progress, stages };
}

/** One line about a retrying activity: "trainStage attempt 4 (last attempt failed: …)". */
export function retryLine(p: PendingActivity): string | undefined {
  if (!p.lastFailure) return undefined;
  return `${p.activity} attempt ${p.attempt} ${p.state === 'SCHEDULED' ? 'scheduled (retry backoff or no worker)' : 'running'}; the previous attempt failed: ${p.lastFailure}`;
}

/** How long a `progress` query may take; without a worker on the orchestrator queue it never returns. */
export const QUERY_TIMEOUT_MS = 3000;

export async function readRunState(client: Client, workflowId: string, options: { queryTimeoutMs?: number } = {}): Promise<RunState> {
  const { handle, description } = await describeRun(client, workflowId);
  const state = fromDescription(description);
  if (state.status === 'COMPLETED') {
    state.result = (await handle.result()) as LineageResult;
    state.progress = progressFromResult(state.result);
    state.progressSource = 'result';
    return state;
  }
  if (state.status !== 'RUNNING') state.failure = await failureOf(handle);
  else {
    state.pending = pendingActivities(description);
    const retrying = state.pending.find((p) => p.lastFailure);
    if (retrying) state.failure = retrying.lastFailure;
  }
  const progress = await queryProgress(client, handle, options.queryTimeoutMs ?? QUERY_TIMEOUT_MS);
  if (progress) {
    state.progress = state.pending ? withLiveDetails(progress, state.pending) : progress;
    state.progressSource = 'query';
  }
  return state;
}

/** The `progress` query, or undefined when no worker answers within the timeout. */
export async function queryProgress(client: Client, handle: WorkflowHandle, timeoutMs: number): Promise<LineageProgress | undefined> {
  try {
    return await client.withDeadline(Date.now() + timeoutMs, () => handle.query(progressQuery));
  } catch (err) {
    const mapped = asCliError(err, handle.workflowId);
    if (mapped !== err) throw mapped; // not found / unreachable
    return undefined;
  }
}

export function fromDescription(d: WorkflowExecutionDescription): RunState {
  const sa = d.typedSearchAttributes;
  return {
    workflowId: d.workflowId,
    runId: d.runId,
    status: d.status.name,
    workflowType: d.type,
    taskQueue: d.taskQueue,
    startTime: d.startTime.toISOString(),
    ...(d.closeTime ? { closeTime: d.closeTime.toISOString() } : {}),
    ...defined({ experiment: sa.get(experimentKey), model: sa.get(modelKey), stage: sa.get(stageKey), fraction: sa.get(progressKey) }),
  };
}

/** Stage list of a completed run from its result (statuses done/cached, stage times). */
export function progressFromResult(result: LineageResult): LineageProgress {
  const stages: StageProgress[] = Object.entries(result.stages).map(([name, out]) => ({
    stage: name,
    kind: out.kind,
    status: result.statuses[name] ?? 'done',
    startedAt: out.startedAt,
    finishedAt: out.finishedAt,
    key: out.key,
    ...(out.metrics.loss !== undefined ? { loss: out.metrics.loss } : {}),
  }));
  return {
    name: result.name,
    configHash: result.configHash,
    status: 'completed',
    fraction: 1,
    stages,
    startedAt: result.startedAt,
    finishedAt: result.finishedAt,
  };
}

/** The innermost message of a closed run's failure (cancelled/terminated/timed out/failed). */
async function failureOf(handle: WorkflowHandle): Promise<string | undefined> {
  try {
    await handle.result();
    return undefined;
  } catch (err) {
    return innermostMessage(err);
  }
}

export function innermostMessage(err: unknown): string {
  const messages: string[] = [];
  for (let e = err as { message?: string; cause?: unknown } | undefined; e; e = e.cause as typeof e) {
    if (e.message) messages.push(e.message);
  }
  // "Workflow execution failed" / "Activity task failed" wrap the message that says what happened.
  const useful = messages.filter((m) => !/^(Workflow execution (failed|cancelled|terminated|timed out)|Activity task failed)$/i.test(m));
  return useful[useful.length - 1] ?? messages[messages.length - 1] ?? String(err);
}

function defined<T extends Record<string, unknown>>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
