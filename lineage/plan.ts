// The lineage plan derived from an experiment config: stage names in order, step counts, checkpoint marks, and the
// data and train settings each stage's activity receives. Pure and deterministic (runs in the workflow sandbox).
import { corruptVariantName } from '../config/branch-name';
import type { CorruptVariant, ExperimentConfig } from '../config/schema';
import type { DataSpec, TrainConfigInput } from '../train/config';
import type { StageRole } from '../tracing/results';
import type { StageKind } from '../contract/lineage';

export interface PlannedStage {
  name: string;
  kind: StageKind;
  /** Relative cost, for the lineage's progress fraction. */
  weight: number;
  /** The corruption branch it belongs to (progress views group by it). */
  branch?: string;
}

/** A model whose checkpoint gets traced: its label in trace JSON, role, and the train stage/output it comes from. */
export interface TracedModel {
  label: string;
  role: StageRole;
  stage: string;
  output: string;
  /** The corruption branch a corrupt/retrain model belongs to. */
  branch?: string;
}

/**
 * One corruption branch: the poisoned fine-tune from the clean model, its trace, the clean retraining and its
 * trace. A single `corrupt` mapping is one branch with the unsuffixed stage names of a one-chain lineage (corrupt,
 * trace-corrupt, retrain, trace-retrain); each variant of a list gets corrupt-<name>, retrain-<name>, ….
 */
export interface CorruptBranch {
  name: string;
  variant: CorruptVariant;
  retrain: ExperimentConfig['retrain'];
  /** Stage names of the two train stages; they are also the traced models' labels. */
  corrupt: string;
  retrained: string;
  /** Label of the model it starts from (the clean side of its localisation/restoration triple). */
  clean: string;
}

export function corruptBranches(config: ExperimentConfig): CorruptBranch[] {
  const list = Array.isArray(config.corrupt);
  const variants = Array.isArray(config.corrupt) ? config.corrupt : [config.corrupt];
  const lastEpoch = `finetune-e${config.finetune.epochs[config.finetune.epochs.length - 1]}`;
  return variants.map((variant) => {
    const name = corruptVariantName(variant);
    return {
      name,
      variant,
      retrain: variant.retrain ?? config.retrain,
      corrupt: list ? `corrupt-${name}` : 'corrupt',
      retrained: list ? `retrain-${name}` : 'retrain',
      clean: variant.from === 'base' ? 'base' : lastEpoch,
    };
  });
}

export const traceStageName = (label: string) => `trace-${label}`;
export const epochLabel = (epochs: number) => `epoch-${epochs}`;

/** Label of the model the first branch's corrupt stage starts from. */
export function cleanLabel(config: ExperimentConfig): string {
  return corruptBranches(config)[0].clean;
}

/** The traced models in lineage order: base, each finetune epoch count, then per branch corrupt and retrain. */
export function tracedModels(config: ExperimentConfig): TracedModel[] {
  return [
    { label: 'base', role: 'base', stage: 'base', output: 'checkpoint' },
    ...config.finetune.epochs.map((e): TracedModel => ({ label: `finetune-e${e}`, role: 'clean', stage: 'finetune', output: epochLabel(e) })),
    ...corruptBranches(config).flatMap((b): TracedModel[] => [
      { label: b.corrupt, role: 'corrupted', stage: b.corrupt, output: 'checkpoint', branch: b.name },
      { label: b.retrained, role: 'retrained', stage: b.retrained, output: 'checkpoint', branch: b.name },
    ]),
  ];
}

export function stepsPerEpoch(config: ExperimentConfig, batchSize: number): number {
  return Math.ceil(config.data.n_train / batchSize);
}

/** Optimizer steps for `epochs` passes over the IOI training prompts. */
export function stepsFor(config: ExperimentConfig, epochs: number, batchSize: number): number {
  return Math.max(1, Math.round(epochs * stepsPerEpoch(config, batchSize)));
}

export function pretrainSteps(config: ExperimentConfig): number {
  if (config.model.source !== 'pretrain') return 0;
  const t = config.model.train;
  return t.steps ?? Math.max(1, Math.ceil((t.epochs * config.model.corpus.n) / t.batch_size));
}

/** Finetune checkpoints to keep: epoch label → step. */
export function finetuneMarks(config: ExperimentConfig): Record<string, number> {
  const bs = config.finetune.train.batch_size;
  return Object.fromEntries(config.finetune.epochs.map((e) => [epochLabel(e), stepsFor(config, e, bs)]));
}

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}

/**
 * Finetune checkpoint cadence: every epoch boundary must be a checkpoint, so the cadence divides their common
 * divisor; it is the largest such divisor <= checkpoint_every (or the common divisor itself when that is 0).
 */
export function finetuneCadence(config: ExperimentConfig): number {
  const common = Object.values(finetuneMarks(config)).reduce(gcd);
  const limit = config.checkpoint_every;
  if (limit <= 0 || limit >= common) return common;
  for (let d = limit; d > 1; d--) if (common % d === 0) return d;
  return 1;
}

/** The IOI training data of finetune/corrupt/retrain; a corrupt stage poisons the labels with its variant's transform. */
export function ioiData(config: ExperimentConfig, poison?: CorruptVariant): DataSpec {
  const d = config.data;
  return {
    kind: 'ioi',
    n: d.n_train,
    seed: d.seed + config.seed,
    eval_n: d.n_eval,
    holdout_names: d.holdout_names,
    ...(poison ? { poison: { transform: poison.transform, rate: poison.rate } } : {}),
  };
}

/** A stage's train settings with the top-level seed offset applied and the step count fixed. */
export function stageTrain(config: ExperimentConfig, train: ExperimentConfig['finetune']['train'], steps: number): TrainConfigInput {
  return { ...train, seed: train.seed + config.seed, steps };
}

/** All stages, in the order the workflow runs them. */
export function planStages(config: ExperimentConfig): PlannedStage[] {
  const trainWeight = (steps: number, batch: number) => Math.max(1, (steps * batch) / 32);
  const traceWeight = Math.max(4, (config.trace.n / 32) * config.trace.methods.length * (config.trace.circuit ? 8 : 4));
  const traced = tracedModels(config);
  const trace = (label: string): PlannedStage => ({ name: traceStageName(label), kind: 'trace', weight: traceWeight });
  const ft = config.finetune.train.batch_size;
  const finetuneSteps = Math.max(...Object.values(finetuneMarks(config)));
  const baseWeight = config.model.source === 'pretrain' ? trainWeight(pretrainSteps(config), config.model.train.batch_size) : 1;
  return [
    { name: 'validate', kind: 'validate', weight: 1 },
    { name: 'base', kind: 'base', weight: baseWeight },
    trace('base'),
    { name: 'finetune', kind: 'train', weight: trainWeight(finetuneSteps, ft) },
    ...traced.filter((t) => t.stage === 'finetune').map((t) => trace(t.label)),
    ...corruptBranches(config).flatMap((b): PlannedStage[] => [
      { name: b.corrupt, kind: 'train', weight: trainWeight(stepsFor(config, b.variant.epochs, b.variant.train.batch_size), b.variant.train.batch_size), branch: b.name },
      { ...trace(b.corrupt), branch: b.name },
      { name: b.retrained, kind: 'train', weight: trainWeight(stepsFor(config, b.retrain.epochs, b.retrain.train.batch_size), b.retrain.train.batch_size), branch: b.name },
      { ...trace(b.retrained), branch: b.name },
    ]),
    { name: 'compare', kind: 'compare', weight: 1 },
    { name: 'report', kind: 'report', weight: 1 },
  ];
}
