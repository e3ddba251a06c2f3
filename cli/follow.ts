// Follows a lineage run until it closes: polls the `progress` query into a view, then prints the outcome (summary
// with headline metrics and artifact locations, or the failure and how to resume). Used by `run`, `resume`, `watch`.
import type { Client, WorkflowExecutionStatusName } from '@temporalio/client';
import { setTimeout as sleep } from 'node:timers/promises';
import { formatDuration, formatNumber } from './view/format';
import type { LineageView } from './view/lineage-view';
import { pendingActivities, queryProgress, readRunState, retryLine, withLiveDetails, type RunState } from './run-state';
import { CliError, EXIT } from './errors';
import { asCliError, exitCodeOf, statusWord } from './temporal-access';
import { refLocation } from '../store/artifact-store';

export interface FollowOptions {
  /** Milliseconds between polls (default: 1000 on a TTY, else 2000). */
  pollMs?: number;
  /** Stops following (the run itself goes on); resolves with status RUNNING. */
  signal?: AbortSignal;
  /** Why this process's own worker died, if it did: following then ends with exit 1 (nothing else runs the stages). */
  workerFailure?: () => string | undefined;
}

export interface FollowOutcome {
  state: RunState;
  exitCode: number;
}

const QUERY_TIMEOUT_MS = 3000;
/** A running attempt silent this long has lost its worker (workers heartbeat every ~2 s). */
const STALE_HEARTBEAT_SECONDS = 20;
/** After the run closed, a worker may be gone: ask briefly. */
const FINAL_QUERY_TIMEOUT_MS = 1500;

export async function followRun(client: Client, workflowId: string, view: LineageView, options: FollowOptions = {}): Promise<FollowOutcome> {
  const pollMs = options.pollMs ?? (view.mode === 'tty' ? 1000 : 2000);
  const handle = client.workflow.getHandle(workflowId);
  let warnedNoWorker = false;
  let closed: WorkflowExecutionStatusName | undefined;
  const told = new Set<string>();
  const tell = (message: string) => {
    if (told.has(message)) return;
    told.add(message);
    view.log(message);
  };
  while (!options.signal?.aborted) {
    let status: WorkflowExecutionStatusName;
    let pending;
    try {
      const description = await handle.describe();
      status = description.status.name;
      pending = pendingActivities(description);
    } catch (err) {
      throw asCliError(err, workflowId);
    }
    if (status !== 'RUNNING') {
      closed = status;
      break;
    }
    // Temporal's own record of attempts: shown even when no worker answers the query.
    for (const p of pending) {
      const line = retryLine(p);
      if (line) tell(`retrying: ${line}`);
    }
    const died = options.workerFailure?.();
    if (died) {
      throw new CliError(`${died}; ${workflowId} is still open (its stages wait for a worker): continue it with \`plasticity worker\` or cancel it with \`plasticity cancel ${workflowId}\``, EXIT.failed);
    }
    const progress = await queryProgress(client, handle, QUERY_TIMEOUT_MS);
    if (progress) view.update(withLiveDetails(progress, pending));
    else {
      if (!warnedNoWorker) {
        view.log(`waiting: no worker answers on the orchestrator queue yet (start one with \`plasticity worker\`)`);
        warnedNoWorker = true;
      }
      for (const p of pending) {
        if (p.heartbeatAgeSeconds !== undefined && p.heartbeatAgeSeconds >= STALE_HEARTBEAT_SECONDS) {
          tell(`the worker running ${p.activity} (attempt ${p.attempt}) has not heartbeated for ${p.heartbeatAgeSeconds}s: it has probably died; Temporal retries the attempt once its heartbeat timeout passes`);
        }
      }
    }
    await sleep(pollMs, undefined, { signal: options.signal }).catch(() => undefined);
  }
  const state = await readRunState(client, workflowId);
  // The workflow's own final snapshot keeps per-stage losses; a completed run's result-derived one does not.
  const final = closed ? await queryProgress(client, handle, FINAL_QUERY_TIMEOUT_MS) : undefined;
  if (final) {
    state.progress = final;
    state.progressSource = 'query';
  }
  if (state.progress) view.update(state.progress);
  const exitCode = closed ? exitCodeOf(state.status) : 0;
  view.end(endInfo(state, exitCode));
  return { state, exitCode };
}

/** Small fields for the end event / line: status, exit code, headline numbers, artifact URIs, failure. */
export function endInfo(state: RunState, exitCode: number): { status: string; [key: string]: unknown } {
  const r = state.result;
  return {
    status: statusWord(state.status),
    workflowId: state.workflowId,
    exitCode,
    ...(state.failure ? { failure: state.failure } : {}),
    ...(r ? { headline: r.headline, compare: refLocation(r.storeUrl, r.compare), ...(r.report ? { report: refLocation(r.storeUrl, r.report) } : {}), store: r.storeUrl } : {}),
  };
}

/** Human summary printed after the view in tty/lines mode. */
export function summaryText(state: RunState): string {
  const lines: string[] = [];
  const took = state.closeTime ? formatDuration((Date.parse(state.closeTime) - Date.parse(state.startTime)) / 1000) : undefined;
  const id = state.workflowId;
  if (state.status === 'RUNNING') {
    lines.push(`stopped following ${id}; it keeps running. Follow it again with \`plasticity watch ${id}\`, stop it with \`plasticity cancel ${id}\``);
    return lines.join('\n');
  }
  lines.push(`${id} ${statusWord(state.status)}${took ? ` after ${took}` : ''}`);
  const r = state.result;
  if (r) {
    const headline = Object.entries(r.headline);
    if (headline.length) {
      const w = Math.max(...headline.map(([k]) => k.length));
      lines.push('headline:', ...headline.map(([k, v]) => `  ${k.padEnd(w)}  ${formatNumber(v)}`));
    }
    lines.push(`compare: ${refLocation(r.storeUrl, r.compare)}`);
    if (r.report) lines.push(`report:  ${refLocation(r.storeUrl, r.report)}`);
    lines.push(`store:   ${r.storeUrl}`);
  } else {
    if (state.failure && state.status !== 'CANCELLED') lines.push(`reason: ${state.failure}`);
    lines.push(`continue it with \`plasticity resume ${id}\` (reuses every completed stage and the last checkpoint)`);
  }
  return lines.join('\n');
}
