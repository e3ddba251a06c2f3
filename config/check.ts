// Checks of what a valid config refers to and implies: the model folder has the files its source needs (and a
// readable config.json), the artifact store is reachable and writable, the model's n_ctx fits the longest prompt, and
// each stage's memory estimate fits this machine. Run by the CLI before starting a lineage and by the workflow's
// first activity, so none of these ever reaches a stage (where it would fail on every retry).
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { HF_CONFIG_FILE, META_FILE, MODEL_FILE } from '../checkpoint/files';
import { CORPUS_KINDS, buildIoiVocab, longestInputTokens, type CorpusKind } from '../ioi/corpus';
import type { ModelConfig } from '../model/config';
import { modelConfigFromHf } from '../model/hf';
import { modelConfigFromArch } from '../train/config';
import { openStore } from '../store/open';
import type { ArtifactStore } from '../store/artifact-store';
import { ConfigError } from './load';
import type { ExperimentConfig } from './schema';

/** Files a model folder must hold, per source. */
export const REQUIRED_MODEL_FILES = {
  hf: [HF_CONFIG_FILE, MODEL_FILE],
  checkpoint: [META_FILE, HF_CONFIG_FILE, MODEL_FILE],
} as const;

/** Throws ConfigError (field `model.path`) when the model folder or one of its files is missing. */
export function checkModelFiles(config: ExperimentConfig): void {
  const model = config.model;
  if (model.source === 'pretrain') return;
  const dir = model.path;
  if (!fs.existsSync(dir)) throw new ConfigError(`model.path: folder ${dir} not found (model.source is ${model.source})`, 'model.path');
  if (!fs.statSync(dir).isDirectory()) throw new ConfigError(`model.path: ${dir} is a file; expected a model folder`, 'model.path');
  for (const name of REQUIRED_MODEL_FILES[model.source]) {
    if (!fs.existsSync(path.join(dir, name))) {
      throw new ConfigError(
        `model.path: ${path.join(dir, name)} not found; a ${model.source} folder needs ${REQUIRED_MODEL_FILES[model.source].join(', ')}`,
        'model.path',
      );
    }
  }
}

/** Opens the configured store and checks it is reachable and writable; throws ConfigError (field `store`). */
export async function checkStore(config: ExperimentConfig, open: (spec?: string) => ArtifactStore = openStore): Promise<ArtifactStore> {
  let store: ArtifactStore;
  try {
    store = open(config.store);
  } catch (err) {
    throw new ConfigError(`store: ${(err as Error).message}`, 'store');
  }
  try {
    await store.check();
  } catch (err) {
    throw new ConfigError(`store: ${config.store} is not usable: ${(err as Error).message}`, 'store');
  }
  return store;
}

/** The model's architecture as the config implies it (pretrain: its arch; hf/checkpoint: the folder's config.json). */
export function impliedModelConfig(config: ExperimentConfig): ModelConfig {
  const model = config.model;
  if (model.source === 'pretrain') return modelConfigFromArch(model.arch, buildIoiVocab().size);
  const file = path.join(model.path, HF_CONFIG_FILE);
  let hf: unknown;
  try {
    hf = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    throw new ConfigError(`model.path: ${file} is not valid JSON (${(err as Error).message})`, 'model.path');
  }
  if (!hf || typeof hf !== 'object' || Array.isArray(hf)) throw new ConfigError(`model.path: ${file}: expected a JSON object (a GPT-2 config)`, 'model.path');
  try {
    return modelConfigFromHf(hf as Record<string, unknown>, file);
  } catch (err) {
    throw new ConfigError(`model.path: ${(err as Error).message}`, 'model.path');
  }
}

/** Bytes per parameter while training: weights, gradients and two AdamW moments in float32. */
const TRAIN_BYTES_PER_PARAM = 16;

export function parameterCount(c: ModelConfig): number {
  const attn = c.d_model * c.n_head * c.d_head * 4 + c.n_head * c.d_head * 3 + c.d_model;
  const mlp = 2 * c.d_model * c.d_mlp + c.d_mlp + c.d_model;
  return c.vocab * c.d_model * (c.tied ? 1 : 2) + c.n_ctx * c.d_model + c.n_layer * (attn + mlp + 4 * c.d_model) + 2 * c.d_model;
}

export interface StageMemory {
  stage: string;
  /** The field that sets the batch (rows fed at once). */
  batchField: string;
  bytes: number;
  paramBytes: number;
}

/** A rough upper estimate of each stage's memory: parameters (+ optimizer state when training) + float32 activations. */
export function estimateStageMemory(config: ExperimentConfig, c: ModelConfig = impliedModelConfig(config), T = Math.min(c.n_ctx, longestInputTokens())): StageMemory[] {
  const P = parameterCount(c);
  const acts = (B: number) => 4 * B * T * (c.n_layer * (16 * c.d_model + 4 * c.n_head * T + 4 * c.d_mlp) + 3 * c.vocab);
  const train = (stage: string, batchField: string, B: number): StageMemory => ({ stage, batchField, paramBytes: P * TRAIN_BYTES_PER_PARAM, bytes: P * TRAIN_BYTES_PER_PARAM + acts(B) });
  const out: StageMemory[] = [];
  if (config.model.source === 'pretrain') out.push(train('base', 'model.train.batch_size', config.model.train.batch_size));
  out.push(train('finetune', 'finetune.train.batch_size', config.finetune.train.batch_size));
  const variants = Array.isArray(config.corrupt) ? config.corrupt : [config.corrupt];
  variants.forEach((v, i) => {
    const at = Array.isArray(config.corrupt) ? `corrupt.${i}` : 'corrupt';
    out.push(train(at, `${at}.train.batch_size`, v.train.batch_size));
    if (v.retrain) out.push(train(`${at}.retrain`, `${at}.retrain.train.batch_size`, v.retrain.train.batch_size));
  });
  out.push(train('retrain', 'retrain.train.batch_size', config.retrain.train.batch_size));
  out.push({ stage: 'trace', batchField: 'trace.n', paramBytes: 2 * P * 4, bytes: 2 * P * 4 + acts(config.trace.n) });
  return out;
}

const GB = 1024 ** 3;

/**
 * What the config implies, checked before any stage runs: n_ctx holds the longest prompt any stage feeds, and every
 * stage's memory estimate fits this machine (`totalMem`, default os.totalmem()). Throws ConfigError naming the field.
 */
export function checkImpliedLimits(config: ExperimentConfig, totalMem: number = os.totalmem()): void {
  const c = impliedModelConfig(config);
  const archField = config.model.source === 'pretrain' ? 'model.arch' : 'model.path';
  const mix = config.model.source === 'pretrain' ? config.model.corpus.mix : undefined;
  const pretrainKinds: CorpusKind[] = mix ? CORPUS_KINDS.filter((k) => (mix[k] ?? 0) > 0) : [...CORPUS_KINDS];
  const longest = longestInputTokens(config.model.source === 'pretrain' ? [...new Set<CorpusKind>(['ioi', ...pretrainKinds])] : ['ioi']);
  if (c.n_ctx < longest) {
    const field = config.model.source === 'pretrain' ? 'model.arch.n_ctx' : 'model.path';
    throw new ConfigError(
      `${field}: n_ctx ${c.n_ctx} is smaller than the longest prompt the lineage feeds (${longest} tokens); expected n_ctx >= ${longest}`,
      field,
    );
  }
  for (const m of estimateStageMemory(config, c, longest)) {
    if (m.bytes <= totalMem) continue;
    const paramsDominate = m.paramBytes >= m.bytes / 2;
    const field = paramsDominate ? archField : m.batchField;
    const what = paramsDominate
      ? `a model of ${parameterCount(c).toExponential(2)} parameters (n_layer ${c.n_layer}, d_model ${c.d_model}, d_mlp ${c.d_mlp}, vocab ${c.vocab})`
      : `a batch of ${m.batchField} rows of up to ${longest} tokens`;
    throw new ConfigError(
      `${field}: stage ${m.stage} would need about ${(m.bytes / GB).toFixed(1)} GB for ${what}, more than this machine's ${(totalMem / GB).toFixed(1)} GB of memory; expected a smaller ${paramsDominate ? 'model' : 'batch'}`,
      field,
    );
  }
}

/** All checks (files, implied limits, store); returns the opened store. */
export async function checkConfigResources(config: ExperimentConfig, open?: (spec?: string) => ArtifactStore): Promise<ArtifactStore> {
  checkModelFiles(config);
  checkImpliedLimits(config);
  return checkStore(config, open);
}
