// The base stage for a given model folder (model.source hf or checkpoint): upload its files to the store as a
// checkpoint. The stage key comes from the model's identity, the sha256 of every file that is imported (config.json
// as well as the weights: the same weights with another n_head compute something else), so importing the same
// folder again is a cache hit and any other folder is not. Tokenizer files of an HF folder are not read (prompts
// use the built-in GPT-2 vocabulary, ioi/tokenizer.ts), so they are not part of it.
import { createHash } from 'node:crypto';
import { createReadStream, promises as fs } from 'node:fs';
import { hashJson } from '../config/canonical';
import * as path from 'node:path';
import { checkModelFiles } from '../config/check';
import type { ExperimentConfig } from '../config/schema';
import type { ArtifactStore } from '../store/artifact-store';
import type { ImportModelInput, ImportModelResult, LookupStageResult } from '../contract/activities';
import type { StageOutput } from '../contract/lineage';
import { lookupStage, recordStage } from './cache';
import { CHECKPOINT_FILES } from '../checkpoint/files';
import { uploadCheckpointFolder } from '../checkpoint/store';
import { mapErrors } from './errors';

export function importModelActivity(openStore: (url: string) => ArtifactStore) {
  return async function importModel(input: ImportModelInput): Promise<ImportModelResult> {
    return mapErrors(`stage ${input.stage}`, async () => {
      const startedAt = new Date().toISOString();
      checkModelFiles({ model: input.model } as ExperimentConfig);
      const store = openStore(input.store);
      const modelSha = await modelIdentity(input.model.path);
      const lookup = await lookupImport(store, input, modelSha);
      if (lookup.cached) return { output: lookup.cached, cached: true };
      const uploaded = await uploadCheckpointFolder(store, input.model.path, 0);
      const output: StageOutput = {
        stage: input.stage,
        kind: 'base',
        key: lookup.key,
        outputs: { checkpoint: uploaded.ref },
        // The parent identity of the stages built on it: the whole model (config + weights), not the weights alone.
        weights: { checkpoint: modelSha },
        artifacts: [uploaded.ref],
        metrics: {},
        startedAt,
        finishedAt: new Date().toISOString(),
      };
      await recordStage(store, output);
      return { output, cached: false };
    });
  };
}

/** sha256 over the name → sha256 map of the folder's imported files (the ones uploadCheckpointFolder stores). */
export async function modelIdentity(dir: string): Promise<string> {
  const entries = await fs.readdir(dir, { withFileTypes: true });
  const names = entries.filter((e) => e.isFile() && CHECKPOINT_FILES.includes(e.name)).map((e) => e.name).sort();
  const files: Record<string, string> = {};
  for (const name of names) files[name] = await fileSha256(path.join(dir, name));
  return hashJson({ files });
}

/** The import's stage key (from every imported file's sha256) and the cached result, if any (also used by the plan). */
export async function lookupImport(store: ArtifactStore, input: ImportModelInput, modelSha?: string): Promise<LookupStageResult> {
  modelSha ??= await modelIdentity(input.model.path);
  return lookupStage(store, {
    stage: input.stage, store: input.store, kind: 'base', parents: [modelSha], config: { source: input.model.source }, codeVersion: input.codeVersion,
  });
}

async function fileSha256(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}
