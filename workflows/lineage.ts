// The lineage workflow: runs the stage sequence of lineage/stages.ts with activity proxies — train and trace on
// the gpu queue, validation, cache lookups, model import, compare and report on the cpu queue — and keeps the live state:
// the `progress` query, the Web UI's current details and the stage/progress search attributes.
// Deterministic: no I/O, activity *types* only, all inputs from the workflow argument.
import {
  ActivityCancellationType,
  ApplicationFailure,
  isCancellation,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  upsertSearchAttributes,
  type ActivityOptions,
} from '@temporalio/workflow';
import type { LineageActivities } from '../activities';
import {
  NON_RETRYABLE_ERROR_TYPES,
  progressQuery,
  stageHeartbeatSignal,
  type LineageInput,
  type LineageResult,
} from '../contract/lineage';
import { experimentKey, modelKey, progressKey, stageKey } from '../temporal/search-attributes';
import { planStages } from '../lineage/plan';
import { LineageState } from './progress';
import { runLineageStages, type StageObserver, type StageRunner } from '../lineage/stages';

export async function lineageWorkflow(input: LineageInput): Promise<LineageResult> {
  const { config } = input;
  const state = new LineageState(config.name, input.configHash, planStages(config), new Date().toISOString());
  const acts = activityProxies(input);

  const publish = (attributes: boolean) => {
    setCurrentDetails(state.markdown());
    if (attributes) {
      const snap = state.snapshot();
      upsertSearchAttributes([
        { key: stageKey, value: snap.current ?? snap.status },
        { key: progressKey, value: snap.fraction },
      ]);
    }
  };
  setHandler(progressQuery, () => state.snapshot());
  setHandler(stageHeartbeatSignal, (hb) => {
    state.heartbeat(hb);
    setCurrentDetails(state.markdown());
  });
  upsertSearchAttributes([
    { key: experimentKey, value: config.name },
    { key: modelKey, value: modelLabel(config.model) },
  ]);
  publish(true);

  const runner: StageRunner = {
    validate: (args, summary) => acts.validate.validateConfig.executeWithOptions({ summary }, [args]),
    lookup: (args, summary) => acts.cpu.lookupStage.executeWithOptions({ summary }, [args]),
    importModel: (args, summary) => acts.cpu.importModel.executeWithOptions({ summary }, [args]),
    train: (args, summary) => acts.gpu.trainStage.executeWithOptions({ summary }, [args]),
    trace: (args, summary) => acts.gpu.traceStage.executeWithOptions({ summary }, [args]),
    compare: (args, summary) => acts.cpu.compareStage.executeWithOptions({ summary }, [args]),
    report: (args, summary) => acts.report.reportStage.executeWithOptions({ summary }, [args]),
  };
  const observer: StageObserver = {
    running(stage, key) {
      state.running(stage, key);
      publish(stage !== 'validate' && key === undefined); // search attributes once per stage, not again when keyed
    },
    finished(stage, output, cached) {
      state.finished(stage, output, cached);
      publish(stage !== 'validate');
    },
    failed(stage, err) {
      const cancelled = isCancellation(err);
      state.failed(stage, cancelled ? 'cancelled' : 'failed', cancelled ? 'cancelled' : rootMessage(err));
      state.end(cancelled ? 'cancelled' : 'failed');
      publish(true);
      return cancelled ? err : stageFailure(stage, err);
    },
    optionalFailed(stage, err) {
      if (isCancellation(err)) return false;
      state.failed(stage, 'failed', rootMessage(err));
      publish(true);
      return true;
    },
    progress: () => state.snapshot(),
  };

  const result = await runLineageStages(input, runner, observer);
  state.end('completed');
  publish(true);
  return result;
}

/** Activity proxies: heavy ML on the gpu queue (heartbeats, long attempts), light work on the cpu queue. */
function activityProxies(input: LineageInput) {
  const o = input.options ?? {};
  const retry: ActivityOptions['retry'] = {
    initialInterval: o.retryInitialInterval ?? '5s',
    backoffCoefficient: 2,
    maximumInterval: '2m',
    maximumAttempts: o.maxAttempts ?? 20,
    nonRetryableErrorTypes: NON_RETRYABLE_ERROR_TYPES,
  };
  const heartbeatTimeout = o.heartbeatTimeout ?? '60s';
  return {
    gpu: proxyActivities<LineageActivities>({
      taskQueue: input.queues.gpu,
      startToCloseTimeout: '24h',
      heartbeatTimeout,
      retry,
      // Set explicitly: left unset, the command carries TRY_CANCEL (proto 0) despite the documented default, and a
      // cancelled lineage would end before the stage has committed its cancel-point checkpoint.
      cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
    }),
    // cpu-queue activities heartbeat on a timer (activities/index.ts), so a dead worker is noticed as on the gpu queue.
    cpu: proxyActivities<LineageActivities>({ taskQueue: input.queues.cpu, startToCloseTimeout: '1h', heartbeatTimeout, retry }),
    report: proxyActivities<LineageActivities>({ taskQueue: input.queues.cpu, startToCloseTimeout: '10m', heartbeatTimeout, retry: { ...retry, maximumAttempts: 3 } }),
    validate: proxyActivities<LineageActivities>({
      taskQueue: input.queues.cpu,
      startToCloseTimeout: '2m',
      heartbeatTimeout,
      retry: { ...retry, maximumAttempts: 3 },
    }),
  };
}

/** The innermost failure message (an activity failure's cause is the activity's own error). */
function rootMessage(err: unknown): string {
  let e = err as { message?: string; cause?: unknown } | undefined;
  while (e?.cause && typeof e.cause === 'object') e = e.cause as typeof e;
  return e?.message ?? String(err);
}

function rootType(err: unknown): string | undefined {
  let e = err as { type?: string | null; cause?: unknown } | undefined;
  let type: string | undefined;
  while (e && typeof e === 'object') {
    if (e.type) type = e.type;
    e = e.cause as typeof e;
  }
  return type;
}

/** A workflow failure that names the stage and the root cause, keeping the original chain as its cause. */
function stageFailure(name: string, err: unknown): ApplicationFailure {
  return ApplicationFailure.create({
    message: `stage ${name} failed: ${rootMessage(err)}`,
    type: rootType(err) ?? 'StageFailed',
    nonRetryable: true,
    cause: err instanceof Error ? err : undefined,
  });
}

function modelLabel(model: LineageInput['config']['model']): string {
  if (model.source === 'pretrain') return `pretrain:${model.arch.n_layer}L-${model.arch.d_model}d-${model.arch.n_head}h`;
  return `${model.source}:${model.path.split('/').filter(Boolean).pop() ?? model.path}`;
}
