// Client-side helpers for sweeps: start one (parent workflow + search attributes), read where it stands (the
// parent's query, else its result, plus each child lineage's own status), and resume a stopped sweep as a new run
// that carries over the completed points and lets each interrupted point reuse its completed stages.
import type { Client, WorkflowExecutionStatusName, WorkflowHandle } from '@temporalio/client';
import type { ExpandedSweep } from '../config/sweep';
import type { LineageOptions, LineageQueues, LineageResult } from '../contract/lineage';
import { taskQueues } from '../contract/lineage';
import {
  SWEEP_WORKFLOW_TYPE,
  sweepChildId,
  sweepProgressQuery,
  sweepWorkflowId,
  type SweepInput,
  type SweepProgress,
  type SweepResult,
} from '../contract/sweep';
import type { sweepWorkflow } from '../workflows/sweep';
import { RESUMABLE_STATUSES, codeVersion, collectReusable, lineageStatus, type LineageStatusReport } from './lineage-client';
import { experimentKey, progressKey, stageKey, sweepKey } from './search-attributes';

export type SweepHandle = WorkflowHandle<typeof sweepWorkflow>;

export interface StartSweepOptions {
  queues?: LineageQueues | string;
  codeVersion?: string;
  workflowId?: string;
  options?: LineageOptions;
  /** Resume fields (see SweepInput). */
  done?: SweepInput['done'];
  reuse?: SweepInput['reuse'];
  resumedFrom?: string;
}

export interface StartedSweep {
  workflowId: string;
  handle: SweepHandle;
  input: SweepInput;
}

export async function startSweep(client: Client, sweep: Pick<ExpandedSweep, 'name' | 'points' | 'concurrency'>, opts: StartSweepOptions = {}): Promise<StartedSweep> {
  const queues = typeof opts.queues === 'object' ? opts.queues : taskQueues(opts.queues);
  const input: SweepInput = {
    name: sweep.name,
    points: sweep.points,
    concurrency: sweep.concurrency,
    codeVersion: opts.codeVersion ?? codeVersion(),
    queues,
    ...(opts.options ? { options: opts.options } : {}),
    ...(opts.done ? { done: opts.done } : {}),
    ...(opts.reuse ? { reuse: opts.reuse } : {}),
    ...(opts.resumedFrom ? { resumedFrom: opts.resumedFrom } : {}),
  };
  const workflowId = opts.workflowId ?? sweepWorkflowId(sweep.name);
  const handle = await client.workflow.start<typeof sweepWorkflow>(SWEEP_WORKFLOW_TYPE, {
    workflowId,
    taskQueue: queues.orchestrator,
    args: [input],
    typedSearchAttributes: [
      { key: sweepKey, value: workflowId },
      { key: experimentKey, value: sweep.name },
      { key: stageKey, value: 'pending' },
      { key: progressKey, value: 0 },
    ],
    staticSummary: `sweep ${sweep.name}: ${sweep.points.length} lineages (${sweep.points.map((p) => p.label).join(' | ')})`.slice(0, 200),
    memo: { sweep: true, codeVersion: input.codeVersion, ...(opts.resumedFrom ? { resumedFrom: opts.resumedFrom } : {}) },
  });
  return { workflowId, handle, input };
}

/** Whether a workflow id is a sweep's parent workflow. */
export async function isSweep(client: Client, workflowId: string): Promise<boolean> {
  const d = await client.workflow.getHandle(workflowId).describe();
  return d.type === SWEEP_WORKFLOW_TYPE;
}

export interface SweepStatusReport {
  workflowId: string;
  status: WorkflowExecutionStatusName;
  startTime: Date;
  closeTime?: Date;
  progress?: SweepProgress;
  failure?: string;
  /** Each point's child lineage (absent for points not started). */
  children: { index: number; label: string; workflowId?: string; child?: LineageStatusReport }[];
}

/** The sweep's own state (query, else its result) and each child's status and progress. */
export async function sweepStatus(client: Client, workflowId: string, opts: { queryTimeoutMs?: number } = {}): Promise<SweepStatusReport> {
  const handle = client.workflow.getHandle<typeof sweepWorkflow>(workflowId);
  const d = await handle.describe();
  let progress: SweepProgress | undefined;
  let failure: string | undefined;
  try {
    progress = await withTimeout(handle.query(sweepProgressQuery), opts.queryTimeoutMs ?? 5000);
  } catch {
    progress = undefined;
  }
  if (d.status.name !== 'RUNNING') {
    try {
      const r: SweepResult = await handle.result();
      progress ??= { name: r.name, status: 'completed', points: r.points };
    } catch (err) {
      failure = (err as { cause?: Error }).cause?.message || (err as Error).message;
    }
  }
  const input = await sweepInput(client, workflowId, d.runId);
  const children = await Promise.all(
    input.points.map(async (p) => {
      const state = progress?.points.find((x) => x.index === p.index);
      const childId = state?.workflowId ?? sweepChildId(workflowId, p.index);
      const child = await lineageStatus(client, childId, { queryTimeoutMs: 2000 }).catch(() => undefined);
      return { index: p.index, label: p.label, ...(child ? { workflowId: childId, child } : {}) };
    }),
  );
  return { workflowId, status: d.status.name, startTime: d.startTime, ...(d.closeTime ? { closeTime: d.closeTime } : {}), ...(progress ? { progress } : {}), ...(failure ? { failure } : {}), children };
}

async function sweepInput(client: Client, workflowId: string, runId?: string): Promise<SweepInput> {
  const history = await client.workflow.getHandle(workflowId, runId).fetchHistory();
  const started = history.events?.[0]?.workflowExecutionStartedEventAttributes;
  if (!started?.input?.payloads?.length) throw new Error(`sweep ${workflowId}: its history has no start input`);
  return client.options.loadedDataConverter.payloadConverter.fromPayload(started.input.payloads[0]) as SweepInput;
}

/** Children of a sweep from the visibility store (PlasticitySweep = id), newest first. */
export async function listSweepChildren(client: Client, sweepId: string): Promise<{ workflowId: string; status: string }[]> {
  const out: { workflowId: string; status: string }[] = [];
  for await (const info of client.workflow.list({ query: `${sweepKey.name} = '${sweepId.replace(/'/g, '')}' AND WorkflowType = 'lineageWorkflow'` })) {
    out.push({ workflowId: info.workflowId, status: info.status.name });
  }
  return out;
}

export interface ResumedSweep extends StartedSweep {
  /** Points carried over as completed. */
  carried: number[];
  /** Points whose interrupted child lineage left stages to reuse. */
  reusing: number[];
}

/** Starts a new run of a stopped sweep: completed points are carried over, the others continue from the store. */
export async function resumeSweep(client: Client, workflowId: string, opts: { workflowId?: string; options?: LineageOptions } = {}): Promise<ResumedSweep> {
  const d = await client.workflow.getHandle(workflowId).describe();
  if (!RESUMABLE_STATUSES.includes(d.status.name)) {
    throw new Error(`sweep ${workflowId} is ${d.status.name}; only ${RESUMABLE_STATUSES.join(', ').toLowerCase()} sweeps can be resumed`);
  }
  const input = await sweepInput(client, workflowId, d.runId);
  const done: Record<number, LineageResult> = { ...(input.done ?? {}) };
  const reuse: NonNullable<SweepInput['reuse']> = {};
  for (const p of input.points) {
    if (done[p.index]) continue;
    const childId = sweepChildId(workflowId, p.index);
    const cd = await client.workflow.getHandle(childId).describe().catch(() => undefined);
    if (!cd) continue; // never started
    if (cd.status.name === 'COMPLETED') done[p.index] = (await client.workflow.getHandle(childId).result()) as LineageResult;
    else if (RESUMABLE_STATUSES.includes(cd.status.name)) reuse[p.index] = (await collectReusable(client, childId, cd.runId)).reuse;
  }
  const started = await startSweep(client, input, {
    queues: input.queues,
    codeVersion: input.codeVersion,
    workflowId: opts.workflowId ?? `${workflowId.replace(/-r\d+$/, '')}-r${Date.now() % 1e9}`,
    options: opts.options ?? input.options,
    done,
    reuse,
    resumedFrom: workflowId,
  });
  return { ...started, carried: Object.keys(done).map(Number), reusing: Object.keys(reuse).map(Number) };
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
    p.then((v) => (clearTimeout(t), resolve(v)), (e) => (clearTimeout(t), reject(e)));
  });
}
