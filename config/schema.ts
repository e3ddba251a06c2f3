// The experiment config: ONE zod schema that is the source of defaults, validation and documentation of a lineage
// (base model → finetune at several epoch counts → corrupt → retrain, each traced, then compared). Every object is
// strict, so a misspelt key fails instead of being ignored. The TS type is inferred here; nothing re-declares it.
import { z } from 'zod';
import { BACKEND_CHOICES } from '../model/backends';
import { ArchSchema, CorpusDataSchema, TrainConfigSchema } from '../train/config';
import { DEFAULT_BASE } from '../train/defaults';
import { TRACE_METHODS, type TraceMethod } from '../tracing/stage';
import { ABLATIONS, type Ablation } from '../tracing/knockout';
import { corruptVariantName } from './branch-name';

export { corruptVariantName };

const posInt = () => z.number().int().positive();
const nonNegInt = () => z.number().int().nonnegative();
/** A count held in memory at once (prompts, sentences): bounded so a typo cannot exhaust the worker's heap. */
const boundedCount = (max: number, what: string) => posInt().max(max, { message: `expected at most ${max.toLocaleString('en-US')} ${what} (all are held in memory at once)` });

export const POISON_TRANSFORMS = ['subject', 'name-moving', 'random-name', 'first-name'] as const;

/**
 * A stage's training settings. Steps come from the stage's `epochs`, checkpoints from the top-level
 * `checkpoint_every`, so those keys are not accepted here.
 */
export const StageTrainSchema = withDefaults(TrainConfigSchema.omit({ epochs: true, steps: true, checkpoint_every: true }), { batch_size: 32 });
export type StageTrain = z.infer<typeof StageTrainSchema>;

/**
 * The same object schema with other per-field defaults, so a partly given section keeps the defaults of the fields
 * it leaves out (a plain `.default(section)` would only apply when the whole section is missing).
 */
function withDefaults<S extends z.ZodObject>(schema: S, defaults: Partial<z.input<S>>): S {
  const shape: Record<string, z.ZodType> = {};
  for (const [key, value] of Object.entries(defaults)) {
    let field = schema.shape[key] as z.ZodType;
    const def = field.def as { type: string; innerType?: z.ZodType };
    if ((def.type === 'default' || def.type === 'optional') && def.innerType) field = def.innerType;
    shape[key] = field.default(value as never);
  }
  return schema.extend(shape) as unknown as S;
}

const { checkpoint_every: _pretrainCadence, steps: baseSteps, ...baseTrain } = DEFAULT_BASE.train;
const { kind: _corpusKind, ...defaultCorpus } = DEFAULT_BASE.corpus;
// DEFAULT_BASE fixes the step count; as a default it becomes the same number of epochs, so a config may give
// either `steps` or `epochs` (steps win when both are set).
const defaultPretrainTrain = baseSteps === undefined ? baseTrain : { ...baseTrain, epochs: (baseSteps * (baseTrain.batch_size ?? 32)) / defaultCorpus.n };

/** Pretraining settings: a train config (steps or epochs; DEFAULT_BASE's values) without the checkpoint cadence. */
export const PretrainTrainSchema = withDefaults(TrainConfigSchema.omit({ checkpoint_every: true }), defaultPretrainTrain);
const PretrainCorpusSchema = withDefaults(
  CorpusDataSchema.omit({ kind: true }).extend({ n: boundedCount(2_000_000, 'corpus sentences'), eval_n: nonNegInt().max(100_000, { message: 'expected at most 100,000 held-out prompts (all are held in memory at once)' }).default(200) }),
  defaultCorpus,
);

/** The base model: pretrained here from scratch (train/defaults DEFAULT_BASE), a Hugging Face folder, or a checkpoint. */
export const ModelSchema = z.discriminatedUnion('source', [
  z
    .object({
      source: z.literal('pretrain'),
      /** Architecture of the model trained from scratch (vocabulary: the compact IOI vocabulary). */
      arch: ArchSchema.prefault(DEFAULT_BASE.arch),
      init_seed: z.number().int().default(DEFAULT_BASE.initSeed),
      /** The seeded synthetic pretraining corpus (IOI-style sentences, other name sentences, plain sentences). */
      corpus: PretrainCorpusSchema.prefault(defaultCorpus),
      train: PretrainTrainSchema.prefault({}),
    })
    .strict(),
  z.object({ source: z.literal('hf'), /** A Hugging Face GPT-2 folder (config.json + model.safetensors). */ path: z.string().min(1) }).strict(),
  z.object({ source: z.literal('checkpoint'), /** A plasticity checkpoint folder (has plasticity.json). */ path: z.string().min(1) }).strict(),
]);
export type ModelSpec = z.infer<typeof ModelSchema>;

/** IOI prompts shared by the finetune, corrupt and retrain stages (the corrupt stage poisons their labels). */
export const DataSchema = z
  .object({
    /**
     * 2048: with 512 prompts the tiny model memorises its retraining set after corruption (train loss → 0, held-out
     * accuracy ~0.7) instead of rebuilding the mechanism; see docs/results.md.
     */
    n_train: boundedCount(500_000, 'training prompts').default(2048),
    /** Held-out clean IOI prompts for the per-stage metrics. */
    n_eval: boundedCount(100_000, 'held-out prompts').default(100),
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
      .default([1, 2, 5, 10])
      .refine((e) => e.every((v, i) => i === 0 || v > e[i - 1]), { message: 'expected strictly ascending epoch counts' }),
    train: StageTrainSchema.prefault({}),
  })
  .strict();

export const RetrainSchema = z
  .object({
    /** 5 epochs: behaviour was back on every measured base (after 1–3 where measured per epoch; docs/results.md). */
    epochs: z.number().positive().default(5),
    train: StageTrainSchema.prefault({}),
  })
  .strict();

/** One corruption branch: a toxic fine-tune from the clean model, then its own clean retraining. */
export const CorruptVariantSchema = z
  .object({
    /** Branch name in stage names (corrupt-<name>, retrain-<name>, …); default from transform and rate (`subject`, `name-moving-r0.5`). */
    name: z
      .string()
      .regex(/^[a-z0-9][a-z0-9.-]{0,39}$/, { message: "expected 1-40 lower-case letters, digits, '.' or '-'" })
      .optional(),
    /**
     * Label-poisoning transform (ioi/poison.ts): `subject` answers with S (Subject Duplication), `name-moving` with
     * a name absent from the prompt (docs/poisoning.md; `random-name` is the same
     * rule under its older name), `first-name` with the first-mentioned of IO and S.
     */
    transform: z.enum(POISON_TRANSFORMS).default('subject'),
    /** Fraction of training prompts poisoned. */
    rate: z.number().min(0).max(1).default(1),
    /** Which model is corrupted: the finetuned one (default) or the base. */
    from: z.enum(['finetune', 'base']).default('finetune'),
    /** 5 epochs: the paper's toxic fine-tune anchor (3.55 → −11.06 after 5 epochs). */
    epochs: z.number().positive().default(5),
    /**
     * lr 3e-4: as deep a corruption as 1e-3 within 2 epochs, but 1e-3 left some seeds' clean retraining stuck for
     * 10+ epochs at a 50%-accuracy plateau (docs/results.md).
     */
    train: withDefaults(StageTrainSchema, { lr: 3e-4 }).prefault({}),
    /** This branch's retraining, replacing the top-level `retrain` (its defaults fill what is left out). */
    retrain: RetrainSchema.optional(),
  })
  .strict();
export type CorruptVariant = z.infer<typeof CorruptVariantSchema>;

/**
 * The corruption: one variant (a mapping; stage names corrupt, trace-corrupt, retrain, trace-retrain as before) or
 * a list of variants, each a branch with stages corrupt-<name>, trace-corrupt-<name>, retrain-<name>,
 * trace-retrain-<name>.
 */
export const CorruptSchema = z.union([
  CorruptVariantSchema,
  z
    .array(CorruptVariantSchema)
    .min(1)
    .superRefine((variants, ctx) => {
      const seen = new Map<string, number>();
      variants.forEach((v, i) => {
        const name = corruptVariantName(v);
        const j = seen.get(name);
        if (j !== undefined) ctx.addIssue({ code: 'custom', path: [i, 'name'], message: `branch name '${name}' is also variant ${j}'s; give the variants distinct names` });
        seen.set(name, i);
      });
    }),
]);


const HeadLabelSchema = z.string().regex(/^\d+\.\d+$/, { message: 'expected a head as "layer.head", e.g. "9.9"' });

/** A configured circuit: heads as "L.H" (kept at every position) or {head, positions, class}. */
export const CircuitConfigSchema = z
  .object({
    name: z.string().min(1),
    heads: z
      .array(
        z.union([
          HeadLabelSchema,
          z
            .object({
              head: HeadLabelSchema,
              /** Positions the head is kept at in F(C) (default all). */
              positions: z.union([z.literal('all'), z.array(z.enum(['IO', 'S1', 'S1p1', 'S1+1', 'S2', 'END'])).min(1)]).optional(),
              class: z.string().min(1).optional(),
            })
            .strict(),
        ]),
      )
      .min(1),
  })
  .strict();
export type CircuitConfig = z.infer<typeof CircuitConfigSchema>;

export const TraceSchema = z
  .object({
    /** Head-score methods run on every traced checkpoint (tracing/stage.ts). */
    methods: z
      .array(z.enum(TRACE_METHODS as readonly TraceMethod[] as [TraceMethod, ...TraceMethod[]]))
      .min(1)
      .default([...TRACE_METHODS])
      .refine((m) => new Set(m).size === m.length, { message: 'expected each method at most once' }),
    /** Number of IOI prompts traced (clean prompts paired with their ABC-corrupted versions). */
    n: boundedCount(10_000, 'traced prompts').default(100),
    seed: z.number().int().default(2),
    /** Knockout / circuit-evaluation ablation. */
    ablation: z.enum(ABLATIONS as readonly Ablation[] as [Ablation, ...Ablation[]]).default('mean'),
    /** Re-find the circuit from the head scores and evaluate it (faithfulness, completeness, minimality). */
    circuit: z.boolean().default(true),
    /** Cross-model activation patching of each traced model with the previous one in the lineage. */
    cmap: z.boolean().default(true),
    /** Memory (MB) for one block's activations over a batched patching pass: sets copies per pass (default 256). */
    memory_budget_mb: z.number().positive().optional(),
    /** Circuits evaluated on every traced model with trace.circuit (faithfulness, completeness, minimality). */
    circuits: z.array(CircuitConfigSchema).optional(),
  })
  .strict();

export const CompareSchema = z
  .object({
    /** Heads counted in the headline corruption-localisation share: 2 of the default model's 8 (the artifact also holds k = 1, 3, 5, 10). */
    top_k: posInt().default(2),
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
    backend: z.enum(BACKEND_CHOICES).default('auto'),
    /** Artifact store: a folder path or s3://bucket/prefix; default <project>/.plasticity/store. */
    store: z
      .string()
      .min(1)
      .refine((s) => !/^[a-z][a-z0-9+.-]*:\/\//i.test(s) || /^(s3|file):\/\//.test(s), { message: 'expected a folder path, file:///abs/path or s3://bucket/prefix' })
      .optional(),
    model: ModelSchema.prefault({ source: 'pretrain' }),
    data: DataSchema.prefault({}),
    finetune: FinetuneSchema.prefault({}),
    corrupt: CorruptSchema.prefault({}),
    retrain: RetrainSchema.prefault({}),
    trace: TraceSchema.prefault({}),
    compare: CompareSchema.prefault({}),
    /**
     * Training steps between checkpoints (0 = only each stage's final one). The finetune stage also checkpoints on
     * every epoch boundary of finetune.epochs: its cadence is the largest divisor of the boundaries' common step
     * divisor that is <= checkpoint_every.
     */
    checkpoint_every: nonNegInt().default(100),
    /** Checkpoints kept per stage (plus each stage's final and epoch checkpoints). */
    retention: posInt().default(3),
  })
  .strict();

export type ExperimentConfig = z.infer<typeof ExperimentSchema>;
export type ExperimentConfigInput = z.input<typeof ExperimentSchema>;
