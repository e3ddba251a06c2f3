// The state of one lineage run as the CLI shows it: Temporal's execution status and search attributes, the live
// `progress` query when a worker can answer it, the result of a completed run and the failure of a failed one.
import type { Client, WorkflowExecutionDescription, WorkflowExecutionStatusName, WorkflowHandle } from '@temporalio/client';
import { progressQuery, type LineageProgress, type LineageResult, type StageProgress } from '../shared/lineage';
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
  /** Why a closed run did not complete (the innermost failure message). */
  failure?: string;
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
  const progress = await queryProgress(client, handle, options.queryTimeoutMs ?? QUERY_TIMEOUT_MS);
  if (progress) {
    state.progress = progress;
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
