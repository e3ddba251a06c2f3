// A training job as plain JSON in, plain JSON out: start from a checkpoint, an HF folder or a fresh init; build the
// data; train with checkpoints under outDir/step-XXXXXX; evaluate on held-out IOI prompts; write the final folder.
// Runs in-process (runTrainJobHere) or in a worker thread (runTrainJob: the 'train' kind of jobs/offthread.ts).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { z } from 'zod';
import { JobEvents, JobHandlers, registerJob, runJob } from '../jobs/offthread';
import { buildIoiVocab } from '../ioi/corpus';
import type { IoiMetrics } from '../ioi/metrics';
import { deriveSeed, Rng } from '../ioi/rng';
import { Vocab } from '../ioi/tokenizer';
import { BACKEND_CHOICES, BackendName, BackendPreference, initBackend } from '../model/engine';
import { GPT2 } from '../model/gpt2';
import { loadModel } from '../checkpoint/load';
import { ArchSchema, DataSpecSchema, modelConfigFromArch, parseWith, totalSteps as countSteps, TrainConfig, TrainConfigSchema } from './config';
import { MODEL_FILE, stepName } from '../checkpoint/files';
import { CheckpointMeta, loadCheckpoint, ParentInfo, saveCheckpoint, sha256, summarizeLoss } from '../checkpoint/folder';
import { buildTrainingData } from './data';
import { evaluateIoi } from './evaluate';
import { Progress, train, TrainState } from './loop';
import { OptimizerState } from './optimizer';
import { ModelVocab } from '../model/vocab';

/** A fresh model: architecture, init seed, and vocabulary ('ioi' = the compact IOI vocab, null = full GPT-2, or GPT-2 ids). */
export const InitSpecSchema = z
  .object({
    arch: ArchSchema,
    seed: z.number().int().default(0),
    vocab: z.union([z.literal('ioi'), z.null(), z.array(z.number().int())]).default('ioi'),
  })
  .strict();
export type InitSpec = z.infer<typeof InitSpecSchema>;

export const TrainJobInputSchema = z
  .object({
    kind: z.literal('train').default('train'),
    backend: z.enum(BACKEND_CHOICES).default('auto'),
    baseDir: z.union([z.string().min(1), InitSpecSchema]), // a checkpoint / HF folder, or an init spec
    resumeDir: z.string().min(1).optional(), // a checkpoint of this same job to continue from
    outDir: z.string().min(1), // step checkpoints go to outDir/step-XXXXXX
    finalDir: z.string().min(1).optional(), // default outDir/final
    data: DataSpecSchema,
    train: TrainConfigSchema.prefault({}),
    checkpointEvery: z.number().int().nonnegative().optional(), // overrides train.checkpoint_every
    finalOptimizer: z.boolean().default(true), // false: the final folder is weights-only (a stage output)
  })
  .strict();
export type TrainJobInput = z.input<typeof TrainJobInputSchema>;
export type TrainJob = z.infer<typeof TrainJobInputSchema>;

export interface TrainJobResult {
  status: 'completed' | 'cancelled';
  finalDir: string; // the final checkpoint, or the cancel-point checkpoint when cancelled
  step: number;
  totalSteps: number;
  backend: BackendName;
  metrics: { ioi: IoiMetrics | null; loss: number | null; lossRecentMean: number | null; tokens: number; seconds: number; tokensPerSec: number };
}

/** A problem with the job's input (missing folder, bad config, data outside the vocabulary): not worth retrying. */
export class JobInputError extends Error {
  override name = 'JobInputError';
  readonly failureType = 'DataError' as const;
}

async function asInput<T>(fn: () => T | Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    throw e instanceof JobInputError ? e : new JobInputError((e as Error).message);
  }
}

interface Start {
  model: GPT2;
  vocab: ModelVocab;
  parent: ParentInfo;
}

function startFrom(job: TrainJob): Start {
  if (typeof job.baseDir === 'string') {
    const { model, vocab, meta } = loadModel(job.baseDir);
    const modelSha = meta.checkpoint?.files[MODEL_FILE]?.sha256 ?? sha256(fs.readFileSync(path.join(job.baseDir, MODEL_FILE)));
    return { model, vocab, parent: { dir: path.resolve(job.baseDir), kind: meta.source, step: meta.step, model_sha256: modelSha, init: null } };
  }
  const spec = job.baseDir;
  const vocab: ModelVocab = spec.vocab === 'ioi' ? buildIoiVocab() : spec.vocab === null ? Vocab.full() : Vocab.compact(spec.vocab);
  const model = GPT2.init(modelConfigFromArch(spec.arch, vocab.size), spec.seed);
  return { model, vocab, parent: { dir: null, kind: 'init', step: null, model_sha256: null, init: spec as unknown as Record<string, unknown> } };
}

function sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** Runs a training job on the current thread. Initialises the requested backend first. */
export async function runTrainJobHere(input: TrainJobInput, handlers: Partial<JobHandlers<Progress>> = {}): Promise<TrainJobResult> {
  const job = await asInput(() => parseWith(TrainJobInputSchema, input, 'job'));
  const backend = await initBackend(job.backend, handlers.log);
  const config: TrainConfig = { ...job.train, checkpoint_every: job.checkpointEvery ?? job.train.checkpoint_every };
  const finalDir = job.finalDir ?? path.join(job.outDir, 'final');

  let start: Start;
  let optimizerState: OptimizerState | null = null;
  let startStep = 0;
  let cursor = { epoch: 0, index: 0 };
  let rng = new Rng(deriveSeed(config.seed, 'train-rng'));
  let history: [number, number][] = [];
  if (job.resumeDir) {
    const ck = await asInput(() => loadCheckpoint(job.resumeDir!));
    const meta = ck.meta;
    const refuse = (why: string): never => {
      ck.model.dispose();
      throw new JobInputError(`resumeDir ${job.resumeDir}: ${why}`);
    };
    if (!sameJson(meta.train, job.train)) refuse("its train config differs from the job's");
    if (!sameJson(meta.data, job.data)) refuse("its data spec differs from the job's");
    if (!ck.optimizer) refuse('no optimizer.safetensors (a weights-only export cannot be resumed)');
    if (!meta.cursor || !meta.rng) refuse('plasticity.json has no data cursor or RNG state');
    if (meta.backend !== backend) handlers.log?.(`resuming a checkpoint written on '${meta.backend}' with '${backend}': the run continues, but is not bit-identical to an unbroken one`);
    start = { model: ck.model, vocab: ck.vocab, parent: meta.parent ?? { dir: null, kind: 'init', step: null, model_sha256: null, init: null } };
    optimizerState = ck.optimizer;
    startStep = meta.step;
    cursor = meta.cursor!;
    rng = Rng.fromState(meta.rng!);
    history = meta.loss?.history.map(([s, l]) => [s, l] as [number, number]) ?? [];
  } else {
    start = await asInput(() => startFrom(job));
  }
  const { model, vocab, parent } = start;
  try {
    const data = await asInput(() => buildTrainingData(job.data, vocab, config.loss));
    const total = countSteps(config, data.examples.length);
    fs.mkdirSync(job.outDir, { recursive: true });

    const info = (s: TrainState, status: CheckpointMeta['status'], metrics: Record<string, unknown> | null) => ({
      backend, step: s.step, total_steps: total, rng: s.rng, cursor: s.cursor, train: job.train, data: job.data,
      loss: summarizeLoss(s.lossHistory), metrics, parent, status,
    });
    const final: { state?: TrainState; optimizer?: OptimizerState } = {};
    let lastAnnouncedStep = -1;
    const outcome = await train(
      { model, optimizerState, data: data.examples, padId: vocab.padId, config, totalSteps: total, startStep, cursor, rng, lossHistory: history },
      {
        onProgress: handlers.onProgress,
        signal: handlers.signal,
        onCheckpoint: async (s) => {
          if (s.final && s.step === total) {
            // the final folder is written after evaluation below; export the moments now, while the optimizer lives
            final.state = s;
            if (job.finalOptimizer) final.optimizer = await s.optimizer();
            return;
          }
          // A cancel right after a periodic checkpoint stops at the same step: that checkpoint already exists (and its
          // folder may already be handed over to, or removed by, the caller), so it is not written or announced twice.
          if (s.step === lastAnnouncedStep) return;
          const dir = path.join(job.outDir, stepName(s.step));
          await saveCheckpoint(dir, { model, vocab, optimizer: await s.optimizer(), info: info(s, s.final ? 'cancelled' : 'running', null) });
          lastAnnouncedStep = s.step;
          await handlers.onCheckpoint?.({ step: s.step, dir });
        },
      },
    );
    const loss = summarizeLoss(outcome.lossHistory);
    const runMetrics = {
      loss: loss.last, lossRecentMean: loss.recent_mean, tokens: outcome.tokens, seconds: outcome.seconds,
      tokensPerSec: outcome.seconds > 0 ? outcome.tokens / outcome.seconds : 0,
    };
    if (outcome.status === 'cancelled') {
      return { status: 'cancelled', finalDir: path.join(job.outDir, stepName(outcome.step)), step: outcome.step, totalSteps: total, backend, metrics: { ioi: null, ...runMetrics } };
    }
    const fits = data.evalPrompts.length > 0 && data.evalPrompts.every((p) => p.tokens.length <= model.config.n_ctx && [...p.tokens, p.ioTok, p.sTok].every((g) => vocab.has(g)));
    const ioi = fits ? (await evaluateIoi(model, vocab, data.evalPrompts)).metrics : null;
    const finalState: TrainState = final.state ?? {
      step: outcome.step, totalSteps: total, cursor: outcome.cursor, rng: rng.getState(), lossHistory: outcome.lossHistory, final: true,
      optimizer: async () => optimizerState!,
    };
    await saveCheckpoint(finalDir, {
      model, vocab, optimizer: job.finalOptimizer ? final.optimizer ?? optimizerState : null,
      info: info(finalState, 'completed', { ioi, ...runMetrics }),
    });
    await handlers.onCheckpoint?.({ step: outcome.step, dir: finalDir });
    return { status: 'completed', finalDir, step: outcome.step, totalSteps: total, backend, metrics: { ioi, ...runMetrics } };
  } finally {
    model.dispose();
  }
}

export const TRAIN_JOB = registerJob('train', __filename, 'runTrainJobHere');

/** A training job in a worker thread. */
export function runTrainJob(input: TrainJobInput, events: JobEvents<Progress> = {}): Promise<TrainJobResult> {
  return runJob<TrainJobResult, Progress>(TRAIN_JOB, input, events);
}
