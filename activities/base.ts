// The base stage for a given model folder (model.source hf or checkpoint): upload its files to the store as a
// checkpoint. The stage key comes from the weights' sha256, so importing the same folder again is a cache hit.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import * as path from 'node:path';
import { checkModelFiles } from '../config/check';
import type { ExperimentConfig } from '../config/schema';
import type { ArtifactStore } from '../store/artifact-store';
import type { StageOutput } from '../shared/lineage';
import { lookupStage, recordStage, type LookupStageResult } from './cache';
import { uploadCheckpointFolder } from './checkpoint-files';
import { mapErrors } from './errors';

export interface ImportModelInput {
  stage: string;
  store: string;
  model: { source: 'hf' | 'checkpoint'; path: string };
  codeVersion: string;
}

export function importModelActivity(openStore: (url: string) => ArtifactStore) {
  return async function importModel(input: ImportModelInput): Promise<{ output: StageOutput; cached: boolean }> {
    return mapErrors(`stage ${input.stage}`, async () => {
      const startedAt = new Date().toISOString();
      checkModelFiles({ model: input.model } as ExperimentConfig);
      const store = openStore(input.store);
      const lookup = await lookupImport(store, input);
      if (lookup.cached) return { output: lookup.cached, cached: true };
      const uploaded = await uploadCheckpointFolder(store, input.model.path, 0);
      const output: StageOutput = {
        stage: input.stage,
        kind: 'base',
        key: lookup.key,
        outputs: { checkpoint: uploaded.ref },
        weights: { checkpoint: uploaded.weightsSha256 },
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

/** The import's stage key (from the weights' sha256) and the cached result, if any (also used by the plan). */
export async function lookupImport(store: ArtifactStore, input: ImportModelInput): Promise<LookupStageResult> {
  const weightsSha = await fileSha256(path.join(input.model.path, 'model.safetensors'));
  return lookupStage(store, {
    stage: input.stage, store: input.store, kind: 'base', parents: [weightsSha], config: { source: input.model.source }, codeVersion: input.codeVersion,
  });
}

async function fileSha256(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}
