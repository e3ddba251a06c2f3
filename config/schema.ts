// The experiment config: ONE zod schema that is the source of defaults, validation and documentation of a lineage
// (base model → finetune at several epoch counts → corrupt → retrain, each traced, then compared). Every object is
// strict, so a misspelt key fails instead of being ignored. The TS type is inferred here; nothing re-declares it.
import { z } from 'zod';
import { ArchSchema, CorpusDataSchema, TrainConfigSchema } from '../train/config';

const posInt = () => z.number().int().positive();
const nonNegInt = () => z.number().int().nonnegative();

export const BACKENDS = ['auto', 'tensorflow', 'wasm', 'cpu'] as const;
export const POISON_TRANSFORMS = ['subject', 'random-name'] as const;
export const TRACE_METHODS = ['activation', 'path', 'knockout', 'dla', 'attribution'] as const;

/**
 * A stage's training settings. Steps come from the stage's `epochs`, checkpoints from the top-level
 * `checkpoint_every`, so those keys are not accepted here.
 */
export const StageTrainSchema = TrainConfigSchema.omit({ epochs: true, steps: true, checkpoint_every: true });
export type StageTrain = z.infer<typeof StageTrainSchema>;

/** The base model: pretrained here from scratch (the default tiny model), a Hugging Face folder, or a checkpoint. */
export const ModelSchema = z.discriminatedUnion('source', [
  z
    .object({
      source: z.literal('pretrain'),
      /** Architecture of the model trained from scratch. */
      arch: ArchSchema.prefault({ n_layer: 2, d_model: 64, n_head: 4, n_ctx: 32, tied: true }),
      /** The synthetic pretraining corpus (IOI-style sentences, other name sentences, plain sentences). */
      data: CorpusDataSchema.omit({ kind: true }).prefault({ n: 2000, seed: 0, eval_n: 100 }),
      epochs: z.number().positive().default(3),
      train: StageTrainSchema.prefault({ lr: 3e-3, batch_size: 32, loss: 'sentence', warmup: 20, schedule: 'cosine', min_lr_ratio: 0.1 }),
    })
    .strict(),
  z.object({ source: z.literal('hf'), /** A Hugging Face GPT-2 folder (config.json + model.safetensors). */ path: z.string().min(1) }).strict(),
  z.object({ source: z.literal('checkpoint'), /** A plasticity checkpoint folder (has plasticity.json). */ path: z.string().min(1) }).strict(),
]);
export type ModelSpec = z.infer<typeof ModelSchema>;

/** IOI prompts shared by the finetune, corrupt and retrain stages (the corrupt stage poisons their labels). */
export const DataSchema = z
  .object({
    n_train: posInt().default(512),
    /** Held-out clean IOI prompts for the per-stage metrics. */
    n_eval: posInt().default(100),
    seed: z.number().int().default(1),
    /** Names only the held-out prompts use (0 = none). */
    holdout_names: nonNegInt().default(0),
  })
  .strict();

export const FinetuneSchema = z
  .object({
    /** Epoch counts at which the ONE continuing clean fine-tune is checkpointed and traced, ascending. */
    epochs: z
      .array(z.number().positive())
      .min(1)
      .default([1, 2, 4])
      .refine((e) => e.every((v, i) => i === 0 || v > e[i - 1]), { message: 'expected strictly ascending epoch counts' }),
    train: StageTrainSchema.prefault({ lr: 1e-3, batch_size: 32 }),
  })
  .strict();

export const CorruptSchema = z
  .object({
    /** Label-poisoning transform (ioi/poison.ts): `subject` answers with S, `random-name` with another name. */
    transform: z.enum(POISON_TRANSFORMS).default('subject'),
    /** Fraction of training prompts poisoned. */
    rate: z.number().min(0).max(1).default(1),
    /** Which model is corrupted: the finetuned one (default) or the base. */
    from: z.enum(['finetune', 'base']).default('finetune'),
    epochs: z.number().positive().default(2),
    train: StageTrainSchema.prefault({ lr: 1e-3, batch_size: 32 }),
  })
  .strict();

export const RetrainSchema = z
  .object({
    epochs: z.number().positive().default(2),
    train: StageTrainSchema.prefault({ lr: 1e-3, batch_size: 32 }),
  })
  .strict();

export const TraceSchema = z
  .object({
    methods: z
      .array(z.enum(TRACE_METHODS))
      .min(1)
      .default(['activation', 'attribution', 'dla'])
      .refine((m) => new Set(m).size === m.length, { message: 'expected each method at most once' }),
    /** Number of IOI prompts traced (clean and ABC-corrupted pairs). */
    n: posInt().default(32),
    seed: z.number().int().default(2),
    /** Knockout ablation. */
    ablation: z.enum(['mean', 'zero', 'resample']).default('mean'),
    /** Score heads per position (slower) as well as over all positions. */
    per_position: z.boolean().default(false),
  })
  .strict();

export const CompareSchema = z
  .object({
    /** Heads counted in the corruption-localisation share. */
    top_k: posInt().default(5),
  })
  .strict();

export const ExperimentSchema = z
  .object({
    /** Experiment name: part of the workflow id and the store paths. */
    name: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, { message: "expected 1-64 letters, digits, '.', '_' or '-'" })
      .default('default'),
    seed: z.number().int().default(0),
    backend: z.enum(BACKENDS).default('auto'),
    /** Artifact store: a folder path or s3://bucket/prefix; default <project>/.plasticity/store. */
    store: z.string().min(1).optional(),
    model: ModelSchema.prefault({ source: 'pretrain' }),
    data: DataSchema.prefault({}),
    finetune: FinetuneSchema.prefault({}),
    corrupt: CorruptSchema.prefault({}),
    retrain: RetrainSchema.prefault({}),
    trace: TraceSchema.prefault({}),
    compare: CompareSchema.prefault({}),
    /** Training steps between checkpoints (0 = only each stage's final one). */
    checkpoint_every: nonNegInt().default(25),
    /** Checkpoints kept per stage (plus each stage's final and epoch checkpoints). */
    retention: posInt().default(3),
  })
  .strict();

export type ExperimentConfig = z.infer<typeof ExperimentSchema>;
export type ExperimentConfigInput = z.input<typeof ExperimentSchema>;
