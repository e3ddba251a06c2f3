// The default base model: DEFAULT_BASE's architecture trained from scratch on its synthetic corpus, off-thread.
// The run length is fixed (deterministic); the result says whether the IOI target was reached.
import type { BackendPreference } from '../model/engine';
import type { Progress } from './loop';
import type { JobEvents } from '../jobs/offthread';
import { runTrainJob, type TrainJobInput, type TrainJobResult } from './job';
import { DEFAULT_BASE } from './defaults';

/** What "does IOI" means for the base model, on held-out IOI prompts. */
export const PRETRAIN_TARGET = { logitDiff: 2, pairwiseAcc: 0.9 } as const;

export interface PretrainOptions {
  backend?: BackendPreference;
  finalDir?: string; // default outDir/final
}

export function pretrainJobInput(outDir: string, opts: PretrainOptions = {}): TrainJobInput {
  return {
    kind: 'train',
    backend: opts.backend ?? 'auto',
    baseDir: { arch: DEFAULT_BASE.arch, seed: DEFAULT_BASE.initSeed, vocab: 'ioi' },
    outDir,
    ...(opts.finalDir ? { finalDir: opts.finalDir } : {}),
    data: DEFAULT_BASE.corpus,
    train: DEFAULT_BASE.train,
  };
}

export function reachedTarget(result: TrainJobResult): boolean {
  const m = result.metrics.ioi;
  return !!m && m.logitDiff >= PRETRAIN_TARGET.logitDiff && m.pairwiseAcc >= PRETRAIN_TARGET.pairwiseAcc;
}

/** Pretrains the default base model in a worker thread. */
export async function pretrain(outDir: string, opts: PretrainOptions & JobEvents<Progress> = {}): Promise<TrainJobResult & { reachedTarget: boolean }> {
  const result = await runTrainJob(pretrainJobInput(outDir, opts), opts);
  return { ...result, reachedTarget: reachedTarget(result) };
}
