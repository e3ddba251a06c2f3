// Zod schemas for a training run (optimizer, schedule, loss, checkpoints), the model architecture and the
// training data. The experiment config embeds these; TS types are inferred, never re-declared.
import { z } from 'zod';
import type { ModelConfig } from '../model/config';

const posInt = () => z.number().int().positive();
const nonNegInt = () => z.number().int().nonnegative();

export const LOSS_KINDS = ['answer', 'sentence'] as const;
export const SCHEDULES = ['constant', 'linear', 'cosine'] as const;
export const OPTIMIZERS = ['adamw', 'adam'] as const;

export const TrainConfigSchema = z
  .object({
    optimizer: z.enum(OPTIMIZERS).default('adamw'), // adamw: decoupled weight decay; adam: L2 added to the gradient
    lr: z.number().positive().default(1e-3),
    weight_decay: z.number().nonnegative().default(0),
    betas: z.tuple([z.number().min(0).lt(1), z.number().min(0).lt(1)]).default([0.9, 0.999]),
    eps: z.number().positive().default(1e-8),
    batch_size: posInt().default(16),
    /** Passes over the data; used when `steps` is absent. Fractions allowed. */
    epochs: z.number().positive().default(1),
    /** Total optimizer steps; overrides `epochs` when set. */
    steps: posInt().optional(),
    schedule: z.enum(SCHEDULES).default('constant'), // after warmup: constant, or linear/cosine decay to min_lr_ratio·lr
    warmup: nonNegInt().default(0), // linear warmup steps from 0 to lr
    min_lr_ratio: z.number().min(0).max(1).default(0),
    clip: z.number().positive().nullable().default(1), // global gradient-norm clip; null = off
    loss: z.enum(LOSS_KINDS).default('answer'), // answer: CE on the answer token at END; sentence: next-token CE, padding masked
    seed: z.number().int().default(0),
    checkpoint_every: nonNegInt().default(0), // steps between checkpoints; 0 = only at the end (and on cancel)
    log_every: posInt().default(10), // steps between progress reports
  })
  .strict();
export type TrainConfig = z.infer<typeof TrainConfigSchema>;
export type TrainConfigInput = z.input<typeof TrainConfigSchema>;

/** Architecture of a model trained from scratch; the vocabulary size comes from the dataset's compact vocab. */
export const ArchSchema = z
  .object({
    n_layer: posInt(),
    d_model: posInt(),
    n_head: posInt(),
    d_head: posInt().optional(), // default d_model / n_head
    d_mlp: posInt().optional(), // default 4·d_model
    n_ctx: posInt().default(32),
    tied: z.boolean().default(true),
  })
  .strict()
  .refine((a) => a.d_head !== undefined || a.d_model % a.n_head === 0, {
    message: 'd_model must be divisible by n_head when d_head is not given',
    path: ['d_head'],
  });
export type Arch = z.infer<typeof ArchSchema>;
export type ArchInput = z.input<typeof ArchSchema>;

export function modelConfigFromArch(arch: Arch, vocab: number): ModelConfig {
  return {
    n_layer: arch.n_layer,
    d_model: arch.d_model,
    n_head: arch.n_head,
    d_head: arch.d_head ?? arch.d_model / arch.n_head,
    d_mlp: arch.d_mlp ?? 4 * arch.d_model,
    n_ctx: arch.n_ctx,
    vocab,
    tied: arch.tied,
    ln_eps: 1e-5,
  };
}

export const PoisonSchema = z
  .object({
    transform: z.string().min(1), // a registered label transform (ioi/poison.ts): subject, random-name, ...
    rate: z.number().min(0).max(1).default(1),
  })
  .strict();

/** IOI prompts (with answers) as training data; the held-out eval prompts come from the same split. */
export const IoiDataSchema = z
  .object({
    kind: z.literal('ioi'),
    n: posInt(),
    seed: z.number().int().default(0),
    poison: PoisonSchema.optional(),
    eval_n: nonNegInt().default(200),
    holdout_names: nonNegInt().default(0), // names only the eval prompts use
  })
  .strict();

/** The seeded synthetic corpus (IOI-style, other name sentences, plain sentences); eval on held-out IOI prompts. */
export const CorpusDataSchema = z
  .object({
    kind: z.literal('corpus'),
    n: posInt(),
    seed: z.number().int().default(0),
    mix: z.object({ ioi: z.number().min(0), names: z.number().min(0), plain: z.number().min(0) }).partial().strict().optional(),
    eval_n: nonNegInt().default(200),
  })
  .strict();

export const DataSpecSchema = z.discriminatedUnion('kind', [IoiDataSchema, CorpusDataSchema]);
export type DataSpec = z.infer<typeof DataSpecSchema>;
export type DataSpecInput = z.input<typeof DataSpecSchema>;

/** Turns zod issues into one message naming each field: "train.lr: expected number, got string". */
export function formatZodError(error: z.ZodError, where: string): string {
  return error.issues
    .map((i) => {
      const field = [where, ...i.path.map(String)].filter(Boolean).join('.');
      if (i.code === 'unrecognized_keys') return `${field}: unknown key(s) ${i.keys.map((k) => JSON.stringify(k)).join(', ')}`;
      return `${field}: ${i.message}`;
    })
    .join('; ');
}

/** Parses with a schema, throwing one Error whose message names every bad field under `where`. */
export function parseWith<S extends z.ZodType>(schema: S, value: unknown, where: string): z.infer<S> {
  const r = schema.safeParse(value);
  if (!r.success) throw new Error(formatZodError(r.error, where));
  return r.data;
}

export const parseTrainConfig = (v: unknown, where = 'train'): TrainConfig => parseWith(TrainConfigSchema, v ?? {}, where);
export const parseArch = (v: unknown, where = 'arch'): Arch => parseWith(ArchSchema, v, where);
export const parseDataSpec = (v: unknown, where = 'data'): DataSpec => parseWith(DataSpecSchema, v, where);

/** Total optimizer steps of a run over `nExamples` examples. */
export function totalSteps(cfg: TrainConfig, nExamples: number): number {
  if (cfg.steps !== undefined) return cfg.steps;
  if (nExamples <= 0) throw new Error('train: the dataset is empty');
  return Math.max(1, Math.ceil((cfg.epochs * nExamples) / cfg.batch_size));
}
