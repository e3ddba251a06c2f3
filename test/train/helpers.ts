// Shared bits of the train tests: a tiny architecture, a small IOI/corpus job, and the wasm backend.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { initBackend } from '../../model/engine';
import type { TrainJobInput } from '../../train/job';

/** wasm by default (deterministic, always installed); PLASTICITY_TEST_BACKEND=tensorflow|cpu runs the same tests elsewhere. */
export const TEST_BACKEND = (process.env.PLASTICITY_TEST_BACKEND ?? 'wasm') as 'wasm' | 'tensorflow' | 'cpu';

export async function useTestBackend(): Promise<void> {
  await initBackend(TEST_BACKEND);
}

const made: string[] = [];
process.on('exit', () => made.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

/** A fresh temp folder, removed when the test process exits. */
export function tmpDir(label: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `plasticity-${label}-`));
  made.push(dir);
  return dir;
}

export const TINY_ARCH = { n_layer: 1, d_model: 32, n_head: 2, d_mlp: 64, n_ctx: 32 };

/** A few-dozen-step job on IOI prompts (answer loss), from a fresh init. */
export function tinyJob(outDir: string, over: Partial<TrainJobInput> & { train?: Record<string, unknown> } = {}): TrainJobInput {
  const { train, ...rest } = over;
  return {
    kind: 'train',
    backend: TEST_BACKEND,
    baseDir: { arch: TINY_ARCH, seed: 3, vocab: 'ioi' },
    outDir,
    data: { kind: 'ioi', n: 96, seed: 5, eval_n: 16 },
    train: { lr: 3e-3, batch_size: 8, steps: 24, schedule: 'cosine', warmup: 4, weight_decay: 0.01, log_every: 4, seed: 9, ...(train ?? {}) },
    ...rest,
  };
}
