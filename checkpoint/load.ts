// One loader for the two kinds of model folder: a project checkpoint (plasticity.json present, verified) or a plain
// Hugging Face GPT-2 folder (config.json + model.safetensors; full GPT-2 vocabulary, or the id prefix for small ones).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { GPT2 } from '../model/gpt2';
import { loadHfFolder } from '../model/hf';
import { HF_CONFIG_FILE, META_FILE, OPTIMIZER_FILE } from './files';
import { CheckpointMeta, isCheckpointFolder, loadCheckpoint } from './folder';
import { hfVocab, ModelVocab } from '../model/vocab';
import { DeterministicError } from '../errors/deterministic';

export interface ModelMeta {
  source: 'checkpoint' | 'hf';
  dir: string;
  step: number | null; // training step of a checkpoint
  backend: string | null; // backend a checkpoint was trained on
  checkpoint: CheckpointMeta | null;
}

export interface LoadedModel {
  model: GPT2;
  vocab: ModelVocab;
  meta: ModelMeta;
}

/** Loads a model folder (needs an initialised tfjs backend). Errors name the folder and what is missing. */
export function loadModel(dir: string): LoadedModel {
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) throw new DeterministicError(`model folder ${dir}: not found or not a directory`);
  if (isCheckpointFolder(dir)) {
    const { model, vocab, meta } = loadCheckpoint(dir, { optimizer: false });
    return { model, vocab, meta: { source: 'checkpoint', dir, step: meta.step, backend: meta.backend, checkpoint: meta } };
  }
  if (fs.existsSync(path.join(dir, OPTIMIZER_FILE))) {
    throw new DeterministicError(`model folder ${dir}: has ${OPTIMIZER_FILE} but no ${META_FILE} (an unfinished checkpoint save)`);
  }
  const model = loadHfFolder(dir);
  const hf = JSON.parse(fs.readFileSync(path.join(dir, HF_CONFIG_FILE), 'utf8')) as Record<string, unknown>;
  return { model, vocab: hfVocab(model.config.vocab, hf.eos_token_id), meta: { source: 'hf', dir, step: null, backend: null, checkpoint: null } };
}
