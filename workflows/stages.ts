// The lineage's stage sequence, independent of how stages run: validate → base → finetune (epoch checkpoints) →
// trace each → corrupt → trace → retrain → trace → compare → report. Every stage is first looked up in the stage cache
// (key = parents + stage config + code version) and reused when the store holds it. The workflow runs this with
// activity proxies (workflows/lineage.ts); activities/local-lineage.ts runs it with direct calls, without Temporal.
// Pure and deterministic: no I/O, types only from the activities.
import type {
  CompareStageInput,
  ImportModelInput,
  LookupStageInput,
  LookupStageResult,
  ReportStageInput,
  TraceStageInput,
  TrainStageInput,
  ValidateConfigInput,
  ValidateConfigResult,
} from '../activities';
import type { ArtifactRef } from '../shared/types';
import type { LineageInput, LineageProgress, LineageResult, StageKind, StageOutput } from '../shared/lineage';
import {
  cleanLabel,
  finetuneCadence,
  finetuneMarks,
  ioiData,
  pretrainSteps,
  stageTrain,
  stepsFor,
  traceStageName,
  tracedModels,
  type TracedModel,
} from './plan';

/** How stages run; `summary` is a one-line label (the Web UI shows it next to the activity). */
export interface StageRunner {
  validate(input: ValidateConfigInput, summary: string): Promise<ValidateConfigResult>;
  lookup(input: LookupStageInput, summary: string): Promise<LookupStageResult>;
  importModel(input: ImportModelInput, summary: string): Promise<{ output: StageOutput; cached: boolean }>;
  train(input: TrainStageInput, summary: string): Promise<StageOutput>;
  trace(input: TraceStageInput, summary: string): Promise<StageOutput>;
  compare(input: CompareStageInput, summary: string): Promise<StageOutput>;
  report(input: ReportStageInput, summary: string): Promise<{ report: ArtifactRef; data: ArtifactRef }>;
}

/** Stage transitions; `failed` returns the error to throw. */
export interface StageObserver {
  running(stage: string, key?: string): void;
  finished(stage: string, output: StageOutput, cached: boolean): void;
  failed(stage: string, err: unknown): unknown;
  /** Records the failure of a stage the lineage can do without (the report); false = it is fatal after all. */
  optionalFailed(stage: string, err: unknown): boolean;
  /** The live progress, when the runner keeps one (passed to the report). */
  progress?(): LineageProgress;
}

export async function runLineageStages(input: LineageInput, runner: StageRunner, observer: StageObserver): Promise<LineageResult> {
  const { config, codeVersion } = input;
  const startedAt = new Date().toISOString();

  // Validation: the worker's schema re-checks the config, the model files and the store.
  let storeUrl: string;
  observer.running('validate');
  try {
    ({ storeUrl } = await runner.validate({ config }, 'validate config, model files and store'));
  } catch (err) {
    throw observer.failed('validate', err);
  }
  observer.finished('validate', { stage: 'validate', kind: 'validate', key: '', outputs: {}, artifacts: [], metrics: {}, startedAt, finishedAt: new Date().toISOString() }, false);

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
    observer.running(name);
    try {
      const lookup = await runner.lookup({ stage: name, store: storeUrl, kind, ...identity, codeVersion, candidate: input.reuse?.stages[name] }, `${name}: stage cache lookup`);
      const cached = lookup.cached !== undefined;
      const output = lookup.cached ?? (observer.running(name, lookup.key), await execute(lookup.key));
      outputs[name] = output;
      statuses[name] = cached ? 'cached' : 'done';
      observer.finished(name, output, cached);
      return output;
    } catch (err) {
      throw observer.failed(name, err);
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
      runner.train(
        { ...common, stage: 'base', key, from: { init }, data, train, checkpointEvery: config.checkpoint_every, retention: config.retention },
        `base: pretrain ${pretrainSteps(config)} steps`,
      ),
    );
  } else {
    observer.running('base');
    try {
      const imported = await runner.importModel(
        { stage: 'base', store: storeUrl, model: { source: model.source, path: model.path }, codeVersion },
        `base: import ${model.source} folder`,
      );
      base = imported.output;
      outputs.base = base;
      statuses.base = imported.cached ? 'cached' : 'done';
      observer.finished('base', base, imported.cached);
    } catch (err) {
      throw observer.failed('base', err);
    }
  }

  const traced = tracedModels(config);
  const traceOf = async (t: TracedModel, donor?: TracedModel): Promise<StageOutput> => {
    const src = outputs[t.stage];
    const d = donor && config.trace.cmap ? { label: donor.label, checkpoint: outputs[donor.stage].outputs[donor.output] } : undefined;
    const name = traceStageName(t.label);
    const parents = [src.weights![t.output], ...(d && donor ? [outputs[donor.stage].weights![donor.output]] : [])];
    return stage(name, 'trace', { parents, config: { label: t.label, role: t.role, trace: config.trace, backend: config.backend, donor: d?.label ?? null } }, (key) =>
      runner.trace(
        { ...common, stage: name, key, label: t.label, role: t.role, checkpoint: src.outputs[t.output], donor: d, trace: config.trace },
        `${name}: ${config.trace.methods.join(', ')} on ${config.trace.n} prompts`,
      ),
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
    runner.train(
      { ...common, stage: 'finetune', key, from: { checkpoint: base.outputs.checkpoint }, data: ftData, train: ftTrain, checkpointEvery: finetuneCadence(config), retention: config.retention, marks, metrics: { epochs: ft.epochs[ft.epochs.length - 1] } },
      `finetune: ${ft.epochs[ft.epochs.length - 1]} epochs (${ftSteps} steps), checkpoints at epochs ${ft.epochs.join(', ')}`,
    ),
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
    runner.train(
      { ...common, stage: 'corrupt', key, from: { checkpoint: cleanOut.outputs[clean.output] }, data: corruptData, train: corruptTrain, checkpointEvery: config.checkpoint_every, retention: config.retention, metrics: { epochs: config.corrupt.epochs } },
      `corrupt: ${config.corrupt.transform} poisoning (rate ${config.corrupt.rate}), ${corruptSteps} steps`,
    ),
  );
  await traceOf(byLabel('corrupt'), clean);

  // Retraining on clean data.
  const corrupt = outputs.corrupt;
  const retrainSteps = stepsFor(config, config.retrain.epochs, config.retrain.train.batch_size);
  const retrainTrain = stageTrain(config, config.retrain.train, retrainSteps);
  await stage('retrain', 'train', { parents: [corrupt.weights!.checkpoint], config: { data: ftData, train: retrainTrain, backend: config.backend } }, (key) =>
    runner.train(
      { ...common, stage: 'retrain', key, from: { checkpoint: corrupt.outputs.checkpoint }, data: ftData, train: retrainTrain, checkpointEvery: config.checkpoint_every, retention: config.retention, metrics: { epochs: config.retrain.epochs } },
      `retrain: clean, ${retrainSteps} steps`,
    ),
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
    runner.compare(
      { stage: 'compare', key, store: storeUrl, traces, roles, topK: config.compare.top_k },
      `compare ${traces.length} traced models`,
    ),
  );

  // The report: a view of everything above; the lineage stands without it if rendering fails.
  let report: ArtifactRef | undefined;
  observer.running('report');
  try {
    const stored = await runner.report(
      {
        store: storeUrl,
        name: config.name,
        configHash: input.configHash,
        codeVersion,
        config,
        stages: outputs,
        statuses,
        ...(observer.progress ? { progress: observer.progress() } : {}),
        compare: compare.outputs.compare,
        headline: compare.metrics,
        startedAt,
        ...(input.forkOf ? { forkOf: input.forkOf } : {}),
      },
      'report: render the HTML report into the store',
    );
    report = stored.report;
    const output: StageOutput = { stage: 'report', kind: 'report', key: '', outputs: { ...stored }, artifacts: [stored.report, stored.data], metrics: {}, startedAt, finishedAt: new Date().toISOString() };
    observer.finished('report', output, false);
  } catch (err) {
    if (!observer.optionalFailed('report', err)) throw observer.failed('report', err);
  }

  return {
    name: config.name,
    configHash: input.configHash,
    stages: outputs,
    statuses,
    compare: compare.outputs.compare,
    ...(report ? { report } : {}),
    headline: compare.metrics,
    storeUrl,
    startedAt,
    finishedAt: new Date().toISOString(),
    ...(input.forkOf ? { forkOf: input.forkOf } : {}),
  };
}
