// The sweep workflow: every grid point runs as a child lineage workflow, at most `concurrency` at a time, and the
// points share identical stages through the stage cache. Two points that would compute the same stage never run at
// once: a cpu activity first lists, per point, the stage keys it would compute (the plan's dry run of
// lineage/stages.ts), and a point waits while a running point shares one of them; when that point finishes the
// stage is in the store and the waiting point finds it cached. Deterministic: no I/O, activity types only.
import {
  ApplicationFailure,
  CancellationScope,
  ParentClosePolicy,
  condition,
  isCancellation,
  proxyActivities,
  setHandler,
  startChild,
  upsertSearchAttributes,
  workflowInfo,
  ChildWorkflowCancellationType,
} from '@temporalio/workflow';
import type { LineageActivities } from '../activities';
import type { LineageInput, LineageResult } from '../contract/lineage';
import {
  sweepChildId,
  sweepProgressQuery,
  type SweepInput,
  type SweepPointState,
  type SweepProgress,
  type SweepResult,
} from '../contract/sweep';
import { experimentKey, progressKey, stageKey, sweepKey } from '../temporal/search-attributes';
import type { lineageWorkflow } from './lineage';

export async function sweepWorkflow(input: SweepInput): Promise<SweepResult> {
  const sweepId = workflowInfo().workflowId;
  const progress: SweepProgress = {
    name: input.name,
    status: 'running',
    points: input.points.map((p): SweepPointState => {
      const done = input.done?.[p.index];
      return done ? { index: p.index, label: p.label, status: 'completed', result: done } : { index: p.index, label: p.label, status: 'pending' };
    }),
  };
  setHandler(sweepProgressQuery, () => progress);
  upsertSearchAttributes([{ key: sweepKey, value: sweepId }, { key: experimentKey, value: input.name }]);

  const cpu = proxyActivities<LineageActivities>({ taskQueue: input.queues.cpu, startToCloseTimeout: '10m', retry: { maximumAttempts: 3 } });
  const todo = input.points.filter((p) => !input.done?.[p.index]);
  const keys = await cpu.sweepStageKeys({ points: todo.map((p) => ({ index: p.index, config: p.config })), codeVersion: input.codeVersion });
  const missing = new Map(keys.map((k) => [k.index, new Set(k.missing)]));
  const shares = (a: number, b: number) => [...(missing.get(a) ?? [])].some((k) => missing.get(b)?.has(k));

  const state = (index: number) => progress.points.find((p) => p.index === index)!;
  const running = new Set<number>();
  const publish = () => {
    const closed = progress.points.filter((p) => ['completed', 'failed', 'cancelled'].includes(p.status)).length;
    upsertSearchAttributes([
      { key: stageKey, value: progress.status === 'running' ? `${running.size} running` : progress.status },
      { key: progressKey, value: closed / Math.max(1, progress.points.length) },
    ]);
  };
  publish();

  let cancelled: unknown;
  const runPoint = async (point: SweepInput['points'][number]) => {
    const s = state(point.index);
    const childInput: LineageInput = {
      config: point.config,
      configHash: point.configHash,
      codeVersion: input.codeVersion,
      queues: input.queues,
      ...(input.reuse?.[point.index] ? { reuse: input.reuse[point.index] } : {}),
      ...(input.options ? { options: input.options } : {}),
    };
    s.workflowId = sweepChildId(sweepId, point.index);
    s.status = 'running';
    s.waitingFor = undefined;
    try {
      const child = await startChild<typeof lineageWorkflow>('lineageWorkflow', {
        workflowId: s.workflowId,
        taskQueue: input.queues.orchestrator,
        args: [childInput],
        cancellationType: ChildWorkflowCancellationType.WAIT_CANCELLATION_COMPLETED,
        parentClosePolicy: ParentClosePolicy.REQUEST_CANCEL,
        typedSearchAttributes: [
          { key: sweepKey, value: sweepId },
          { key: experimentKey, value: point.config.name },
          { key: stageKey, value: 'pending' },
          { key: progressKey, value: 0 },
        ],
        staticSummary: `${input.name} point ${point.index}: ${point.label || '(base config)'}`.slice(0, 200),
        memo: { configHash: point.configHash, store: point.config.store, codeVersion: input.codeVersion, sweep: sweepId, point: point.label },
      });
      const result: LineageResult = await child.result();
      s.status = 'completed';
      s.result = result;
    } catch (err) {
      if (isCancellation(err)) {
        s.status = 'cancelled';
        cancelled ??= err;
      } else {
        s.status = 'failed';
        s.error = rootMessage(err);
      }
    } finally {
      running.delete(point.index);
      publish();
    }
  };

  // Start every point whose missing stages no running point shares, in grid order, up to the concurrency.
  const pending = [...todo];
  const tasks: Promise<void>[] = [];
  while (pending.length > 0 && cancelled === undefined) {
    let started = false;
    for (const point of [...pending]) {
      if (running.size >= Math.max(1, input.concurrency)) break;
      const blockers = [...running].filter((r) => shares(point.index, r));
      if (blockers.length > 0) {
        Object.assign(state(point.index), { status: 'waiting', waitingFor: blockers });
        continue;
      }
      pending.splice(pending.indexOf(point), 1);
      running.add(point.index);
      tasks.push(runPoint(point));
      started = true;
    }
    if (started) publish();
    const size = running.size;
    try {
      await condition(() => running.size < size || cancelled !== undefined);
    } catch (err) {
      if (!isCancellation(err)) throw err;
      cancelled = err; // the sweep was cancelled: its children are being cancelled with it
    }
  }
  for (const p of pending) state(p.index).status = 'cancelled';
  // Wait for the children even when cancelled (in a non-cancellable scope, so their cancellation completes first).
  await CancellationScope.nonCancellable(() => Promise.all(tasks));

  const result: SweepResult = { name: input.name, points: progress.points };
  const completed = progress.points.filter((p) => p.status === 'completed');
  if (cancelled === undefined && completed.length > 0) {
    try {
      const agg = await cpu.sweepReport({ name: input.name, sweepId, points: progress.points, configs: input.points.map((p) => ({ index: p.index, overrides: p.overrides, config: p.config })) });
      Object.assign(result, agg);
    } catch (err) {
      result.reportError = rootMessage(err); // the sweep stands without its aggregate report
    }
  }
  const failed = progress.points.filter((p) => p.status === 'failed');
  progress.status = cancelled !== undefined ? 'cancelled' : failed.length ? 'failed' : 'completed';
  publish();
  if (cancelled !== undefined) throw cancelled;
  if (failed.length) {
    throw ApplicationFailure.create({
      message: `sweep ${input.name}: ${failed.length} of ${progress.points.length} points failed (${failed.map((p) => `${p.label}: ${p.error}`).join('; ')})`,
      type: 'SweepPointsFailed',
      nonRetryable: true,
      details: [result],
    });
  }
  return result;
}

function rootMessage(err: unknown): string {
  let e = err as { message?: string; cause?: unknown } | undefined;
  while (e?.cause && typeof e.cause === 'object') e = e.cause as typeof e;
  return e?.message ?? String(err);
}
