// A checkpoint is a folder that is also a valid Hugging Face GPT-2 folder:
//   config.json            HF config (vocab_size = the model's vocabulary size)
//   model.safetensors      weights with HF names
//   optimizer.safetensors  Adam moments (absent in a weights-only export)
//   plasticity.json        written last, marks completeness: format version, model config, vocabulary, backend,
//                          step, RNG state, data cursor, train config, loss summary, parent, sha256 of every file
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { z } from 'zod';
import { ModelConfig, validateModelConfig } from '../model/config';
import { GPT2, paramShapes } from '../model/gpt2';
import { hfConfigFromModel, paramsFromArrays } from '../model/hf';
import { LazyArray, NamedArray, parseSafetensors, writeSafetensorsFile } from '../model/safetensors';
import type { IoiMetrics } from '../ioi/metrics';
import { DataSpecSchema, formatZodError, TrainConfigSchema } from '../train/config';
import type { Cursor } from '../train/data';
import type { OptimizerState } from '../train/optimizer';
import { ModelVocab, vocabFromJson, vocabToJson } from '../model/vocab';
import { HF_CONFIG_FILE, META_FILE, MODEL_FILE, OPTIMIZER_FILE, stepOf } from './files';

export const CHECKPOINT_FORMAT = 'plasticity-checkpoint';
export const CHECKPOINT_VERSION = 1;

const FileDigestSchema = z.object({ sha256: z.string().regex(/^[0-9a-f]{64}$/), bytes: z.number().int().nonnegative() }).strict();

export const LossSummarySchema = z
  .object({
    last: z.number().nullable(),
    recent_mean: z.number().nullable(), // mean of the last (up to) 50 steps
    history: z.array(z.tuple([z.number().int(), z.number()])), // [step, loss], downsampled to <= 256 points
  })
  .strict();
export type LossSummary = z.infer<typeof LossSummarySchema>;

export const ParentSchema = z
  .object({
    dir: z.string().nullable(), // where the run started from (null: initialised from scratch)
    kind: z.enum(['checkpoint', 'hf', 'init']),
    step: z.number().int().nullable(),
    model_sha256: z.string().nullable(),
    init: z.record(z.string(), z.unknown()).nullable(), // the init spec when kind = init
  })
  .strict();
export type ParentInfo = z.infer<typeof ParentSchema>;

export const CheckpointMetaSchema = z
  .object({
    format: z.literal(CHECKPOINT_FORMAT),
    version: z.literal(CHECKPOINT_VERSION),
    model: z.object({
      n_layer: z.number(), d_model: z.number(), n_head: z.number(), d_head: z.number(), d_mlp: z.number(),
      n_ctx: z.number(), vocab: z.number(), tied: z.boolean(), ln_eps: z.number(),
    }).strict(),
    vocab: z.array(z.number().int()).nullable(), // GPT-2 ids of the model's tokens; null = full GPT-2
    backend: z.string(),
    step: z.number().int().nonnegative(),
    total_steps: z.number().int().nonnegative().nullable(),
    rng: z.array(z.number().int()).length(4).nullable(),
    cursor: z.object({ epoch: z.number().int(), index: z.number().int() }).strict().nullable(),
    train: TrainConfigSchema.nullable(),
    data: DataSpecSchema.nullable(),
    loss: LossSummarySchema.nullable(),
    metrics: z.record(z.string(), z.unknown()).nullable(),
    parent: ParentSchema.nullable(),
    status: z.enum(['running', 'completed', 'cancelled', 'export']),
    files: z.record(z.string(), FileDigestSchema),
    created_at: z.string(),
  })
  .strict();
export type CheckpointMeta = z.infer<typeof CheckpointMetaSchema>;

/** What the caller supplies; format, files and created_at are filled in by saveCheckpoint. */
export type CheckpointInfo = Omit<CheckpointMeta, 'format' | 'version' | 'model' | 'vocab' | 'files' | 'created_at'>;

export function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Writes a new file and renames it into place: never writes through an existing file (it may be a hard link to a store blob). */
function writeDurably(file: string, bytes: Uint8Array | string): void {
  const tmp = `${file}.${process.pid}.tmp`;
  const fd = fs.openSync(tmp, 'w');
  try {
    fs.writeSync(fd, typeof bytes === 'string' ? Buffer.from(bytes, 'utf8') : bytes);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, file);
}

export function optimizerToArrays(model: GPT2, state: OptimizerState): Record<string, NamedArray> {
  const out: Record<string, NamedArray> = {};
  const shapes = paramShapes(model.config);
  shapes.forEach(([name, shape], i) => (out[`exp_avg.${name}`] = { shape, data: state.m[i] }));
  shapes.forEach(([name, shape], i) => (out[`exp_avg_sq.${name}`] = { shape, data: state.v[i] }));
  return out;
}

export function optimizerFromArrays(config: ModelConfig, arrays: Record<string, NamedArray>, step: number, file: string): OptimizerState {
  const m: Float32Array[] = [];
  const v: Float32Array[] = [];
  for (const [name, shape] of paramShapes(config)) {
    for (const [prefix, list] of [['exp_avg', m], ['exp_avg_sq', v]] as const) {
      const arr = arrays[`${prefix}.${name}`];
      if (!arr) throw new Error(`${file}: missing tensor '${prefix}.${name}'`);
      if (arr.shape.join(',') !== shape.join(',')) throw new Error(`${file}: tensor '${prefix}.${name}' has shape [${arr.shape}], expected [${shape}]`);
      list.push(arr.data);
    }
  }
  return { step, m, v };
}

export interface SaveCheckpointArgs {
  model: GPT2;
  vocab: ModelVocab;
  optimizer?: OptimizerState | null; // omitted/null: a weights-only export
  info: CheckpointInfo;
}

/**
 * Writes a checkpoint folder. plasticity.json is removed first and written last (via rename), so a folder with a
 * plasticity.json is complete. Returns the metadata written.
 */
export async function saveCheckpoint(dir: string, args: SaveCheckpointArgs): Promise<CheckpointMeta> {
  const { model, vocab, optimizer, info } = args;
  if (vocab.size !== model.config.vocab) throw new Error(`saveCheckpoint: vocabulary has ${vocab.size} tokens but the model has ${model.config.vocab}`);
  fs.mkdirSync(dir, { recursive: true });
  fs.rmSync(path.join(dir, META_FILE), { force: true });
  const digests: CheckpointMeta['files'] = {};
  const configBytes = Buffer.from(JSON.stringify(hfConfigFromModel(model.config), null, 2) + '\n', 'utf8');
  writeDurably(path.join(dir, HF_CONFIG_FILE), configBytes);
  digests[HF_CONFIG_FILE] = { sha256: sha256(configBytes), bytes: configBytes.byteLength };
  // tensors are streamed to disk one at a time (weights read from the backend as written): no whole-file buffers
  const weights: Record<string, LazyArray> = {};
  for (const [name, shape] of paramShapes(model.config)) weights[name] = { shape, read: () => model.params[name].dataSync() as Float32Array };
  digests[MODEL_FILE] = writeSafetensorsFile(path.join(dir, MODEL_FILE), weights, { format: 'pt' });
  if (optimizer) digests[OPTIMIZER_FILE] = writeSafetensorsFile(path.join(dir, OPTIMIZER_FILE), optimizerToArrays(model, optimizer), { step: String(optimizer.step) });
  else fs.rmSync(path.join(dir, OPTIMIZER_FILE), { force: true });
  const meta: CheckpointMeta = {
    format: CHECKPOINT_FORMAT,
    version: CHECKPOINT_VERSION,
    model: { ...model.config },
    vocab: vocabToJson(vocab),
    ...info,
    files: digests,
    created_at: new Date().toISOString(),
  };
  const checked = CheckpointMetaSchema.safeParse(meta);
  if (!checked.success) throw new Error(`saveCheckpoint: invalid metadata: ${formatZodError(checked.error, META_FILE)}`);
  writeDurably(path.join(dir, META_FILE), JSON.stringify(meta, null, 2) + '\n');
  return meta;
}

export function isCheckpointFolder(dir: string): boolean {
  return fs.existsSync(path.join(dir, META_FILE));
}

/** The newest complete checkpoint folder (step-NNNNNN with a plasticity.json) in `dir`, if any. */
export function newestCheckpointFolder(dir: string): string | undefined {
  if (!fs.existsSync(dir)) return undefined;
  const steps = fs.readdirSync(dir).filter((d) => stepOf(d) !== undefined && isCheckpointFolder(path.join(dir, d))).sort();
  return steps.length ? path.join(dir, steps[steps.length - 1]) : undefined;
}

/** Reads plasticity.json and checks every file it lists (size and sha256); throws naming the file on a mismatch. */
export function readCheckpointMeta(dir: string): CheckpointMeta {
  const metaFile = path.join(dir, META_FILE);
  if (!fs.existsSync(metaFile)) {
    const partial = fs.existsSync(path.join(dir, MODEL_FILE));
    throw new Error(`checkpoint ${dir}: no ${META_FILE}${partial ? ' (the save did not complete)' : ''}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(metaFile, 'utf8'));
  } catch (e) {
    throw new Error(`${metaFile}: not valid JSON (${(e as Error).message})`);
  }
  const parsed = CheckpointMetaSchema.safeParse(raw);
  if (!parsed.success) throw new Error(formatZodError(parsed.error, metaFile));
  const meta = parsed.data;
  validateModelConfig(meta.model as ModelConfig, `${metaFile}: model`);
  if (!meta.files[MODEL_FILE]) throw new Error(`${metaFile}: 'files' does not list ${MODEL_FILE}`);
  return meta;
}

/** Reads a listed file and verifies its size and sha256 against plasticity.json. */
function readVerified(dir: string, name: string, meta: CheckpointMeta): Buffer {
  const expected = meta.files[name];
  const file = path.join(dir, name);
  if (!fs.existsSync(file)) throw new Error(`checkpoint ${dir}: ${name} is missing (listed in ${META_FILE})`);
  const bytes = fs.readFileSync(file);
  if (bytes.byteLength !== expected.bytes) {
    throw new Error(`checkpoint ${dir}: ${name} has ${bytes.byteLength} bytes, expected ${expected.bytes} (truncated or modified)`);
  }
  const actual = sha256(bytes);
  if (actual !== expected.sha256) throw new Error(`checkpoint ${dir}: ${name} sha256 ${actual} does not match ${expected.sha256} in ${META_FILE} (corrupted or modified)`);
  return bytes;
}

/** Verifies every file plasticity.json lists; returns the metadata. */
export function verifyCheckpoint(dir: string): CheckpointMeta {
  const meta = readCheckpointMeta(dir);
  for (const name of Object.keys(meta.files)) readVerified(dir, name, meta);
  return meta;
}

export interface LoadedCheckpoint {
  model: GPT2;
  vocab: ModelVocab;
  meta: CheckpointMeta;
  optimizer: OptimizerState | null;
}

/** Loads and verifies a checkpoint folder (needs an initialised tfjs backend). */
export function loadCheckpoint(dir: string, opts: { optimizer?: boolean } = {}): LoadedCheckpoint {
  const meta = readCheckpointMeta(dir);
  const buffers = new Map<string, Buffer>();
  for (const name of Object.keys(meta.files)) buffers.set(name, readVerified(dir, name, meta));
  const config = meta.model as ModelConfig;
  const vocab = vocabFromJson(meta.vocab, config.vocab, `${path.join(dir, META_FILE)}: vocab`);
  const modelFile = path.join(dir, MODEL_FILE);
  const model = new GPT2(config, paramsFromArrays(config, parseSafetensors(buffers.get(MODEL_FILE)!, modelFile).tensors, modelFile));
  let optimizer: OptimizerState | null = null;
  if ((opts.optimizer ?? true) && buffers.has(OPTIMIZER_FILE)) {
    const optFile = path.join(dir, OPTIMIZER_FILE);
    const { tensors, metadata } = parseSafetensors(buffers.get(OPTIMIZER_FILE)!, optFile);
    const step = Number(metadata.step ?? meta.step);
    optimizer = optimizerFromArrays(config, tensors, step, optFile);
  }
  return { model, vocab, meta, optimizer };
}

/** A compact loss summary from [step, loss] pairs. */
export function summarizeLoss(history: readonly (readonly [number, number])[], maxPoints = 256): LossSummary {
  if (history.length === 0) return { last: null, recent_mean: null, history: [] };
  const recent = history.slice(-50);
  const stride = Math.max(1, Math.ceil(history.length / maxPoints));
  const points = history.filter((_, i) => i % stride === 0 || i === history.length - 1).map(([s, l]) => [s, l] as [number, number]);
  return { last: history[history.length - 1][1], recent_mean: recent.reduce((a, [, l]) => a + l, 0) / recent.length, history: points };
}

export type { IoiMetrics };
