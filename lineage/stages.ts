// The lineage's stage sequence, independent of how stages run: validate → base → finetune (epoch checkpoints) →
// trace each → per corruption branch (concurrently): corrupt → trace → retrain → trace → compare → report. Every stage is first looked up in the stage cache
// (key = parents + the activity input itself, minus name/store/cadence, + code version) and reused when the store
// holds it. The workflow runs this with activity proxies (workflows/lineage.ts); lineage/local.ts runs it with
// direct calls, without Temporal; lineage/dry-run.ts dry-runs it. Pure and deterministic (it runs in the
// workflow sandbox): no I/O, no Node imports, types only from the contract.
import type {
  CompareStageInput,
  ImportModelInput,
  ImportModelResult,
  LookupStageInput,
  LookupStageResult,
  ReportStageInput,
  ReportStageResult,
  TraceStageInput,
  TrainStageInput,
  ValidateConfigInput,
  ValidateConfigResult,
} from '../contract/activities';
import type { ArtifactRef } from '../store/artifact-ref';
import type { LineageInput, LineageProgress, LineageResult, StageKind, StageOutput } from '../contract/lineage';
import {
  corruptBranches,
  finetuneCadence,
  finetuneMarks,
  ioiData,
  pretrainSteps,
  stageTrain,
  stepsFor,
  traceStageName,
  tracedModels,
  type CorruptBranch,
  type TracedModel,
} from './plan';

/** How stages run; `summary` is a one-line label (the Web UI shows it next to the activity). */
export interface StageRunner {
  validate(input: ValidateConfigInput, summary: string): Promise<ValidateConfigResult>;
  lookup(input: LookupStageInput, summary: string): Promise<LookupStageResult>;
  importModel(input: ImportModelInput, summary: string): Promise<ImportModelResult>;
  train(input: TrainStageInput, summary: string): Promise<StageOutput>;
  trace(input: TraceStageInput, summary: string): Promise<StageOutput>;
  compare(input: CompareStageInput, summary: string): Promise<StageOutput>;
  report(input: ReportStageInput, summary: string): Promise<ReportStageResult>;
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

/**
 * Fields of an activity input that do not change the stage's result: its own name and key, where it stores and
 * reports, and the checkpoint cadence and retention (a resumed run equals an uninterrupted one).
 */
const NOT_IDENTITY = new Set(['stage', 'key', 'store', 'progressIntervalMs', 'checkpointEvery', 'retention']);

const isArtifactRef = (v: unknown): boolean =>
  !!v && typeof v === 'object' && !Array.isArray(v) && typeof (v as { uri?: unknown }).uri === 'string' && typeof (v as { sha256?: unknown }).sha256 === 'string';

/**
 * A stage's cache identity derived from its activity input: every field except NOT_IDENTITY, with each artifact
 * reference (whose URI names a store, and a checkpoint descriptor's sha256 with it) replaced by a placeholder; the
 * content identities of those references are `parents`, one per reference, which is checked.
 */
export function stageIdentity(name: string, args: Record<string, unknown>, parents: string[]): { parents: string[]; config: unknown } {
  let refs = 0;
  const strip = (v: unknown): unknown => {
    if (isArtifactRef(v)) return refs++, '<parent>';
    if (Array.isArray(v)) return v.map(strip);
    if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).filter(([, x]) => x !== undefined).map(([k, x]) => [k, strip(x)]));
    return v;
  };
  const config = strip(Object.fromEntries(Object.entries(args).filter(([k]) => !NOT_IDENTITY.has(k))));
  if (refs !== parents.length) throw new Error(`stage ${name}: ${refs} artifact references in its input but ${parents.length} parent identities`);
  return { parents, config };
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

  /**
   * Runs one stage: cache lookup, else the activity; records progress and maps failures. The cache identity is
   * derived from `input` itself (stageIdentity), so every field the activity receives is part of the key.
   */
  const stage = async <I extends { key: string }>(
    name: string,
    kind: StageKind,
    parents: string[],
    args: Omit<I, 'key'>,
    execute: (args: I) => Promise<StageOutput>,
  ): Promise<StageOutput> => {
    observer.running(name);
    try {
      const identity = stageIdentity(name, args as Record<string, unknown>, parents);
      const lookup = await runner.lookup({ stage: name, store: storeUrl, kind, ...identity, codeVersion, candidate: input.reuse?.stages[name] }, `${name}: stage cache lookup`);
      const cached = lookup.cached !== undefined;
      const output = lookup.cached ?? (observer.running(name, lookup.key), await execute({ ...args, key: lookup.key } as I));
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
    base = await stage<TrainStageInput>(
      'base', 'base', [],
      { ...common, stage: 'base', from: { init }, data, train, checkpointEvery: config.checkpoint_every, retention: config.retention },
      (args) => runner.train(args, `base: pretrain ${pretrainSteps(config)} steps`),
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
    return stage<TraceStageInput>(
      name, 'trace', parents,
      { ...common, stage: name, label: t.label, role: t.role, checkpoint: src.outputs[t.output], ...(d ? { donor: d } : {}), trace: config.trace },
      (args) => runner.trace(args, `${name}: ${config.trace.methods.join(', ')} on ${config.trace.n} prompts`),
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
  await stage<TrainStageInput>(
    'finetune', 'train', [base.weights!.checkpoint],
    { ...common, stage: 'finetune', from: { checkpoint: base.outputs.checkpoint }, data: ftData, train: ftTrain, checkpointEvery: finetuneCadence(config), retention: config.retention, marks, metrics: { epochs: ft.epochs[ft.epochs.length - 1] } },
    (args) => runner.train(args, `finetune: ${ft.epochs[ft.epochs.length - 1]} epochs (${ftSteps} steps), checkpoints at epochs ${ft.epochs.join(', ')}`),
  );
  let previous = byLabel('base');
  for (const t of traced.filter((x) => x.stage === 'finetune')) {
    await traceOf(t, previous);
    previous = t;
  }

  // Corruption branches: each a toxic fine-tune from the clean model, traced, retrained on clean data, traced.
  // Branches run concurrently as activities of this workflow (not child workflows): the gpu queue hands them to
  // whichever workers are free, so two workers halve the wall time, while the stage cache, the live progress and the
  // resume candidates stay in one execution and a one-branch lineage issues exactly the commands it always did.
  // The first failed branch fails the lineage at once, named by its stage (e.g. "stage corrupt-subject failed");
  // the other branches' committed checkpoints and stages stay in the store, so resume redoes only what is missing.
  const runBranch = async (b: CorruptBranch): Promise<void> => {
    const clean = byLabel(b.clean);
    const cleanOut = outputs[clean.stage];
    const v = b.variant;
    const corruptSteps = stepsFor(config, v.epochs, v.train.batch_size);
    await stage<TrainStageInput>(
      b.corrupt, 'train', [cleanOut.weights![clean.output]],
      { ...common, stage: b.corrupt, from: { checkpoint: cleanOut.outputs[clean.output] }, data: ioiData(config, v), train: stageTrain(config, v.train, corruptSteps), checkpointEvery: config.checkpoint_every, retention: config.retention, metrics: { epochs: v.epochs } },
      (args) => runner.train(args, `${b.corrupt}: ${v.transform} poisoning (rate ${v.rate}), ${corruptSteps} steps`),
    );
    await traceOf(byLabel(b.corrupt), clean);
    const corrupt = outputs[b.corrupt];
    const retrainSteps = stepsFor(config, b.retrain.epochs, b.retrain.train.batch_size);
    await stage<TrainStageInput>(
      b.retrained, 'train', [corrupt.weights!.checkpoint],
      { ...common, stage: b.retrained, from: { checkpoint: corrupt.outputs.checkpoint }, data: ftData, train: stageTrain(config, b.retrain.train, retrainSteps), checkpointEvery: config.checkpoint_every, retention: config.retention, metrics: { epochs: b.retrain.epochs } },
      (args) => runner.train(args, `${b.retrained}: clean, ${retrainSteps} steps`),
    );
    await traceOf(byLabel(b.retrained), byLabel(b.corrupt));
  };
  const branches = corruptBranches(config);
  await Promise.all(branches.map(runBranch));

  // Comparison of every traced stage.
  const traces = traced.map((t) => {
    const out = outputs[traceStageName(t.label)];
    return { label: t.label, trace: out.outputs.trace, ...(out.outputs.cmap ? { cmap: out.outputs.cmap } : {}) };
  });
  const roles = { clean: branches[0].clean, corrupted: branches[0].corrupt, retrained: branches[0].retrained };
  const branchRoles = branches.map((b) => ({ name: b.name, clean: b.clean, corrupted: b.corrupt, retrained: b.retrained, transform: b.variant.transform, rate: b.variant.rate }));
  const compareParents = traces.flatMap((t) => [t.trace.sha256, ...(t.cmap ? [t.cmap.sha256] : [])]);
  const compare = await stage<CompareStageInput>(
    'compare', 'compare', compareParents,
    { stage: 'compare', store: storeUrl, traces, roles, branches: branchRoles, topK: config.compare.top_k },
    (args) => runner.compare(args, `compare ${traces.length} traced models`),
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
