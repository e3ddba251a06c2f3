// The lineage workflow: validate → base → finetune (epoch checkpoints) → trace each → corrupt → trace → retrain →
// trace → compare. Every stage is first looked up in the stage cache (key = parents + stage config + code version)
// and reused when the store holds it; otherwise its activity runs on the gpu (train, trace) or cpu queue.
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
  type StageKind,
  type StageOutput,
} from '../shared/lineage';
import { experimentKey, modelKey, progressKey, stageKey } from '../temporal/search-attributes';
import {
  cleanLabel,
  finetuneCadence,
  finetuneMarks,
  ioiData,
  planStages,
  pretrainSteps,
  stageTrain,
  stepsFor,
  traceStageName,
  tracedModels,
  type TracedModel,
} from './plan';
import { LineageState } from './progress';

export async function lineageWorkflow(input: LineageInput): Promise<LineageResult> {
  const { config, codeVersion } = input;
  const startedAt = new Date().toISOString();
  const state = new LineageState(config.name, input.configHash, planStages(config), startedAt);
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

  // Validation: the worker's schema re-checks the config, the model files and the store.
  const failStage = (name: string, err: unknown): unknown => {
    const cancelled = isCancellation(err);
    state.failed(name, cancelled ? 'cancelled' : 'failed', cancelled ? 'cancelled' : rootMessage(err));
    state.end(cancelled ? 'cancelled' : 'failed');
    publish(true);
    return cancelled ? err : stageFailure(name, err);
  };

  // Validation: the worker's schema re-checks the config, the model files and the store.
  let storeUrl: string;
  state.running('validate');
  publish(false);
  try {
    ({ storeUrl } = await acts.validate.validateConfig.executeWithOptions({ summary: 'validate config, model files and store' }, [{ config }]));
  } catch (err) {
    throw failStage('validate', err);
  }
  state.finished('validate', { stage: 'validate', kind: 'validate', key: '', outputs: {}, artifacts: [], metrics: {}, startedAt, finishedAt: new Date().toISOString() }, false);

  const outputs: Record<string, StageOutput> = {};
  const statuses: Record<string, 'done' | 'cached'> = {};
  const common = { store: storeUrl, backend: config.backend, progressIntervalMs: input.options?.progressIntervalMs };

  /** Runs one stage: cache lookup, else the activity; records progress and maps failures. */
  const stage = async (
    name: string,
    kind: StageKind,
    identity: { parents: string[]; config: unknown },
    execute: (key: string) => Promise<StageOutput>,
  ): Promise<StageOutput> => {
    state.running(name);
    publish(true);
    try {
      const lookup = await acts.cpu.lookupStage.executeWithOptions({ summary: `${name}: stage cache lookup` }, [
        { stage: name, store: storeUrl, kind, ...identity, codeVersion, candidate: input.reuse?.stages[name] },
      ]);
      const cached = lookup.cached !== undefined;
      const output = lookup.cached ?? (state.running(name, lookup.key), await execute(lookup.key));
      outputs[name] = output;
      statuses[name] = cached ? 'cached' : 'done';
      state.finished(name, output, cached);
      publish(true);
      return output;
    } catch (err) {
      throw failStage(name, err);
    }
  };

  // Base model: pretrained from scratch, or imported from a folder.
  const model = config.model;
  let base: StageOutput;
  if (model.source === 'pretrain') {
    const init = { arch: model.arch, seed: model.init_seed + config.seed, vocab: 'ioi' as const };
    const data = { kind: 'corpus' as const, ...model.corpus, seed: model.corpus.seed + config.seed };
    const train = { ...model.train, seed: model.train.seed + config.seed };
    base = await stage('base', 'base', { parents: [], config: { init, data, train, backend: config.backend } }, (key) =>
      acts.gpu.trainStage.executeWithOptions({ summary: `base: pretrain ${pretrainSteps(config)} steps` }, [
        { ...common, stage: 'base', key, from: { init }, data, train, checkpointEvery: config.checkpoint_every, retention: config.retention },
      ]),
    );
  } else {
    state.running('base');
    publish(true);
    try {
      const imported = await acts.cpu.importModel.executeWithOptions({ summary: `base: import ${model.source} folder` }, [
        { stage: 'base', store: storeUrl, model: { source: model.source, path: model.path }, codeVersion },
      ]);
      base = imported.output;
      outputs.base = base;
      statuses.base = imported.cached ? 'cached' : 'done';
      state.finished('base', base, imported.cached);
      publish(true);
    } catch (err) {
      throw failStage('base', err);
    }
  }

  const traced = tracedModels(config);
  const traceOf = async (t: TracedModel, donor?: TracedModel): Promise<StageOutput> => {
    const src = outputs[t.stage];
    const d = donor && config.trace.cmap ? { label: donor.label, checkpoint: outputs[donor.stage].outputs[donor.output] } : undefined;
    const name = traceStageName(t.label);
    const parents = [src.weights![t.output], ...(d && donor ? [outputs[donor.stage].weights![donor.output]] : [])];
    return stage(name, 'trace', { parents, config: { label: t.label, role: t.role, trace: config.trace, backend: config.backend, donor: d?.label ?? null } }, (key) =>
      acts.gpu.traceStage.executeWithOptions({ summary: `${name}: ${config.trace.methods.join(', ')} on ${config.trace.n} prompts` }, [
        { ...common, stage: name, key, label: t.label, role: t.role, checkpoint: src.outputs[t.output], donor: d, trace: config.trace },
      ]),
    );
  };
  const byLabel = (label: string) => traced.find((t) => t.label === label)!;
  await traceOf(byLabel('base'));

  // Clean fine-tune: one continuing run, checkpointed (and later traced) at each epoch count.
  const ft = config.finetune;
  const marks = finetuneMarks(config);
  const ftSteps = Math.max(...Object.values(marks));
  const ftData = ioiData(config);
  const ftTrain = stageTrain(config, ft.train, ftSteps);
  await stage('finetune', 'train', { parents: [base.weights!.checkpoint], config: { data: ftData, train: ftTrain, marks, backend: config.backend } }, (key) =>
    acts.gpu.trainStage.executeWithOptions({ summary: `finetune: ${ft.epochs[ft.epochs.length - 1]} epochs (${ftSteps} steps), checkpoints at epochs ${ft.epochs.join(', ')}` }, [
      { ...common, stage: 'finetune', key, from: { checkpoint: base.outputs.checkpoint }, data: ftData, train: ftTrain, checkpointEvery: finetuneCadence(config), retention: config.retention, marks, metrics: { epochs: ft.epochs[ft.epochs.length - 1] } },
    ]),
  );
  let previous = byLabel('base');
  for (const t of traced.filter((x) => x.stage === 'finetune')) {
    await traceOf(t, previous);
    previous = t;
  }

  // Corruption: a toxic fine-tune from the clean model.
  const clean = byLabel(cleanLabel(config));
  const cleanOut = outputs[clean.stage];
  const corruptSteps = stepsFor(config, config.corrupt.epochs, config.corrupt.train.batch_size);
  const corruptData = ioiData(config, true);
  const corruptTrain = stageTrain(config, config.corrupt.train, corruptSteps);
  await stage('corrupt', 'train', { parents: [cleanOut.weights![clean.output]], config: { data: corruptData, train: corruptTrain, backend: config.backend } }, (key) =>
    acts.gpu.trainStage.executeWithOptions({ summary: `corrupt: ${config.corrupt.transform} poisoning (rate ${config.corrupt.rate}), ${corruptSteps} steps` }, [
      { ...common, stage: 'corrupt', key, from: { checkpoint: cleanOut.outputs[clean.output] }, data: corruptData, train: corruptTrain, checkpointEvery: config.checkpoint_every, retention: config.retention, metrics: { epochs: config.corrupt.epochs } },
    ]),
  );
  await traceOf(byLabel('corrupt'), clean);

  // Retraining on clean data.
  const corrupt = outputs.corrupt;
  const retrainSteps = stepsFor(config, config.retrain.epochs, config.retrain.train.batch_size);
  const retrainTrain = stageTrain(config, config.retrain.train, retrainSteps);
  await stage('retrain', 'train', { parents: [corrupt.weights!.checkpoint], config: { data: ftData, train: retrainTrain, backend: config.backend } }, (key) =>
    acts.gpu.trainStage.executeWithOptions({ summary: `retrain: clean, ${retrainSteps} steps` }, [
      { ...common, stage: 'retrain', key, from: { checkpoint: corrupt.outputs.checkpoint }, data: ftData, train: retrainTrain, checkpointEvery: config.checkpoint_every, retention: config.retention, metrics: { epochs: config.retrain.epochs } },
    ]),
  );
  await traceOf(byLabel('retrain'), byLabel('corrupt'));

  // Comparison of every traced stage.
  const traces = traced.map((t) => {
    const out = outputs[traceStageName(t.label)];
    return { label: t.label, trace: out.outputs.trace, ...(out.outputs.cmap ? { cmap: out.outputs.cmap } : {}) };
  });
  const roles = { clean: clean.label, corrupted: 'corrupt', retrained: 'retrain' };
  const compareParents = traces.flatMap((t) => [t.trace.sha256, ...(t.cmap ? [t.cmap.sha256] : [])]);
  const compare = await stage('compare', 'compare', { parents: compareParents, config: { roles, topK: config.compare.top_k, labels: traces.map((t) => t.label) } }, (key) =>
    acts.cpu.compareStage.executeWithOptions({ summary: `compare ${traces.length} traced models` }, [
      { stage: 'compare', key, store: storeUrl, traces, roles, topK: config.compare.top_k },
    ]),
  );

  state.end('completed');
  publish(true);
  return {
    name: config.name,
    configHash: input.configHash,
    stages: outputs,
    statuses,
    compare: compare.outputs.compare,
    headline: compare.metrics,
    storeUrl,
    startedAt,
    finishedAt: new Date().toISOString(),
  };
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
  return {
    gpu: proxyActivities<LineageActivities>({
      taskQueue: input.queues.gpu,
      startToCloseTimeout: '24h',
      heartbeatTimeout: o.heartbeatTimeout ?? '60s',
      retry,
      // Set explicitly: left unset, the command carries TRY_CANCEL (proto 0) despite the documented default, and a
      // cancelled lineage would end before the stage has committed its cancel-point checkpoint.
      cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
    }),
    cpu: proxyActivities<LineageActivities>({ taskQueue: input.queues.cpu, startToCloseTimeout: '1h', retry }),
    validate: proxyActivities<LineageActivities>({
      taskQueue: input.queues.cpu,
      startToCloseTimeout: '2m',
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
