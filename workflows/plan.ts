// The lineage plan derived from an experiment config: stage names in order, step counts, checkpoint marks, and the
// data and train settings each stage's activity receives. Pure and deterministic (runs in the workflow sandbox).
import type { ExperimentConfig } from '../config/schema';
import type { DataSpec, TrainConfigInput } from '../train/config';
import type { StageRole } from '../tracing/results';
import type { StageKind } from '../shared/lineage';

export interface PlannedStage {
  name: string;
  kind: StageKind;
  /** Relative cost, for the lineage's progress fraction. */
  weight: number;
}

/** A model whose checkpoint gets traced: its label in trace JSON, role, and the train stage/output it comes from. */
export interface TracedModel {
  label: string;
  role: StageRole;
  stage: 'base' | 'finetune' | 'corrupt' | 'retrain';
  output: string;
}

export const traceStageName = (label: string) => `trace-${label}`;
export const epochLabel = (epochs: number) => `epoch-${epochs}`;

/** The traced models in lineage order: base, each finetune epoch count, corrupt, retrain. */
export function tracedModels(config: ExperimentConfig): TracedModel[] {
  return [
    { label: 'base', role: 'base', stage: 'base', output: 'checkpoint' },
    ...config.finetune.epochs.map((e): TracedModel => ({ label: `finetune-e${e}`, role: 'clean', stage: 'finetune', output: epochLabel(e) })),
    { label: 'corrupt', role: 'corrupted', stage: 'corrupt', output: 'checkpoint' },
    { label: 'retrain', role: 'retrained', stage: 'retrain', output: 'checkpoint' },
  ];
}

/** Label of the model the corrupt stage starts from (the clean side of the localisation/restoration triple). */
export function cleanLabel(config: ExperimentConfig): string {
  return config.corrupt.from === 'base' ? 'base' : `finetune-e${config.finetune.epochs[config.finetune.epochs.length - 1]}`;
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

/** The IOI training data of finetune/corrupt/retrain; the corrupt stage poisons the labels. */
export function ioiData(config: ExperimentConfig, poison = false): DataSpec {
  const d = config.data;
  return {
    kind: 'ioi',
    n: d.n_train,
    seed: d.seed + config.seed,
    eval_n: d.n_eval,
    holdout_names: d.holdout_names,
    ...(poison ? { poison: { transform: config.corrupt.transform, rate: config.corrupt.rate } } : {}),
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
    { name: 'corrupt', kind: 'train', weight: trainWeight(stepsFor(config, config.corrupt.epochs, config.corrupt.train.batch_size), config.corrupt.train.batch_size) },
    trace('corrupt'),
    { name: 'retrain', kind: 'train', weight: trainWeight(stepsFor(config, config.retrain.epochs, config.retrain.train.batch_size), config.retrain.train.batch_size) },
    trace('retrain'),
    { name: 'compare', kind: 'compare', weight: 1 },
    { name: 'report', kind: 'report', weight: 1 },
  ];
}
