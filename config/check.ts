// Checks of what a valid config refers to: the model folder has the files its source needs, and the artifact store
// is reachable and writable. Run by the CLI before starting a lineage and by the workflow's first activity.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { openStore } from '../store/open';
import type { ArtifactStore } from '../store/artifact-store';
import { ConfigError } from './load';
import type { ExperimentConfig } from './schema';

/** Files a model folder must hold, per source. */
export const REQUIRED_MODEL_FILES = {
  hf: ['config.json', 'model.safetensors'],
  checkpoint: ['plasticity.json', 'config.json', 'model.safetensors'],
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

/** Both checks; returns the opened store. */
export async function checkConfigResources(config: ExperimentConfig, open?: (spec?: string) => ArtifactStore): Promise<ArtifactStore> {
  checkModelFiles(config);
  return checkStore(config, open);
}
