// `plasticity train [--config FILE] [--set key=value]... --out DIR`: a local training run in a worker thread.
// Without --config it pretrains the default experiment's base model. A config file (YAML or JSON) has the keys
// backend, base (a model folder, or {arch, seed, vocab}), data and train; each key it gives replaces the default's,
// then every --set a.b=value sets one field (value parsed as JSON when possible, else taken as a string).
// The final checkpoint is written to DIR itself, intermediate ones to DIR/checkpoints/step-XXXXXX.
// Progress goes to stderr (live bar, plain lines, or JSON events with --json); stdout is the JSON result.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Command } from 'commander';
import { z } from 'zod';
import { applySet, ConfigError, readConfigFile, type ConfigFileKind } from '../../config/load';
import { BACKEND_CHOICES } from '../../model/engine';
import { DataSpecSchema, parseWith, TrainConfigSchema } from '../../train/config';
import { isCheckpointFolder, newestCheckpointFolder, readCheckpointMeta } from '../../checkpoint/folder';
import { DEFAULT_BASE } from '../../train/defaults';
import { InitSpecSchema, runTrainJob, TrainJobInput, TrainJobInputSchema, TrainJobResult } from '../../train/job';
import type { Progress } from '../../train/loop';
import { CliError, EXIT } from '../errors';
import { addProgressOption, etaSinceFirstReport, localProgress, type ProgressCliOptions } from '../local-progress';

export const TrainRunSchema = z
  .object({
    backend: z.enum(BACKEND_CHOICES).default('auto'),
    base: z.union([z.string().min(1), InitSpecSchema]),
    data: DataSpecSchema,
    train: TrainConfigSchema.prefault({}),
  })
  .strict();

export function defaultRunConfig(): Record<string, unknown> {
  return {
    backend: 'auto',
    base: { arch: { ...DEFAULT_BASE.arch }, seed: DEFAULT_BASE.initSeed, vocab: 'ioi' },
    data: { ...DEFAULT_BASE.corpus },
    train: { ...DEFAULT_BASE.train },
  };
}

const RUN_FILE: ConfigFileKind = { label: '--config', sections: 'backend, base, data, train' };

/** The run config: defaults, the file's top-level keys over them, then each --set. */
function runConfig(opts: TrainCliOptions): Record<string, unknown> {
  try {
    const run = { ...defaultRunConfig(), ...(opts.config ? readConfigFile(opts.config, RUN_FILE) : {}) };
    for (const s of opts.set) applySet(run, s, { source: opts.config ?? 'the default run', example: 'train.steps=100' });
    return run;
  } catch (e) {
    throw e instanceof ConfigError ? new CliError(e.message) : e;
  }
}

export interface TrainCliOptions {
  config?: string;
  set: string[];
  out: string;
  backend?: string;
  resume?: string | boolean;
}

/** The job of a `train` invocation; `log` gets notes (e.g. a --resume with nothing to resume from). */
export function buildJobInput(opts: TrainCliOptions, log: (message: string) => void = (m) => process.stderr.write(`train: ${m}\n`)): TrainJobInput {
  const run = runConfig(opts);
  if (opts.backend) run.backend = opts.backend;
  let parsed: z.infer<typeof TrainRunSchema>;
  try {
    parsed = parseWith(TrainRunSchema, run, opts.config ? `config` : 'train run');
  } catch (e) {
    throw new CliError((e as Error).message);
  }
  if (typeof parsed.base === 'string' && !fs.existsSync(parsed.base)) throw new CliError(`base: model folder ${parsed.base} does not exist`);
  let resumeDir: string | undefined;
  if (opts.resume) {
    resumeDir = typeof opts.resume === 'string' ? opts.resume : newestCheckpointFolder(path.join(opts.out, 'checkpoints'));
    if (typeof opts.resume === 'string' && !isCheckpointFolder(opts.resume)) throw new CliError(`--resume ${opts.resume}: not a complete checkpoint folder (no plasticity.json)`);
    if (!resumeDir) log(`no checkpoint under ${path.join(opts.out, 'checkpoints')}; starting from the beginning`);
  }
  const input: TrainJobInput = {
    kind: 'train', backend: parsed.backend, baseDir: parsed.base, data: parsed.data, train: parsed.train,
    outDir: path.join(opts.out, 'checkpoints'), finalDir: opts.out, ...(resumeDir ? { resumeDir } : {}),
  };
  try {
    parseWith(TrainJobInputSchema, input, 'job');
  } catch (e) {
    throw new CliError((e as Error).message);
  }
  return input;
}

const fmt = (x: number, digits = 4) => (Number.isFinite(x) ? x.toFixed(digits) : String(x));

/** 'pretrain' from a fresh initialisation, 'train' from a model folder: the stage name the progress view shows. */
export function stageName(input: TrainJobInput): string {
  return typeof input.baseDir === 'string' ? 'train' : 'pretrain';
}

/** The step a resumed run starts from (0 when not resuming or the checkpoint cannot be read here). */
function startStep(input: TrainJobInput): number {
  if (!input.resumeDir) return 0;
  try {
    return readCheckpointMeta(input.resumeDir).step;
  } catch {
    return 0; // runTrainJob reports the problem
  }
}

export function register(program: Command): void {
  addProgressOption(
    program
      .command('train')
      .description('train a model locally (default: pretrain the base model of the default experiment)')
      .option('--config <file>', 'YAML or JSON run config (keys: backend, base, data, train)')
      .option('--set <key=value>', 'set one config field, e.g. train.steps=200 (repeatable)', (v: string, prev: string[]) => [...prev, v], [] as string[])
      .requiredOption('--out <dir>', 'output folder: the final checkpoint; intermediate ones under <dir>/checkpoints')
      .option('--backend <name>', `tfjs backend: ${BACKEND_CHOICES.join(', ')} (default: PLASTICITY_BACKEND or the ladder)`)
      .option('--resume [dir]', 'continue from a checkpoint (default: the newest one under <out>/checkpoints)')
      .option('--json', 'progress as JSON events on stderr, one per line (stdout is the JSON result either way)'),
  ).action(async (opts: TrainCliOptions & ProgressCliOptions) => {
    const progress = localProgress(opts);
    const say = (m: string) => progress.log(`train: ${m}`);
    const input = buildJobInput(opts, say);
    const stage = stageName(input);
    const total = input.train?.steps ?? 0; // 0 (unknown yet, e.g. set by epochs): the first report brings it
    const controller = new AbortController();
    const onSignal = () => {
      say('stopping at the next step boundary (checkpointing); press Ctrl-C again to abort hard');
      process.off('SIGINT', onSignal);
      controller.abort();
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    const start = startStep(input);
    if (input.resumeDir) say(`resuming from ${input.resumeDir} (step ${start})`);
    progress.update({ stage, step: start, total });
    const eta = etaSinceFirstReport();
    let result: TrainJobResult;
    try {
      result = await runTrainJob(input, {
        signal: controller.signal,
        log: say,
        onProgress: (p: Progress) => progress.update({ stage, step: p.step, total: p.total, loss: p.loss, etaSeconds: eta(p.step, p.total) }),
        onCheckpoint: (c) => say(`checkpoint step ${c.step} → ${c.dir}`),
      });
    } catch (e) {
      progress.done({ status: 'failed', error: (e as Error).message });
      if ((e as Error).name === 'JobInputError') throw new CliError((e as Error).message);
      throw e;
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
    const m = result.metrics;
    say(`${result.status} at step ${result.step}/${result.totalSteps}: loss ${m.loss === null ? '-' : fmt(m.loss)}, ${m.tokens} tokens in ${m.seconds.toFixed(1)} s (tokens/s ${Math.round(m.tokensPerSec)})`);
    if (m.ioi) say(`held-out IOI (n=${m.ioi.n}): logit diff ${fmt(m.ioi.logitDiff, 3)}, pairwise acc ${fmt(m.ioi.pairwiseAcc, 3)}, top-1 acc ${fmt(m.ioi.top1Acc, 3)}`);
    progress.done({ status: result.status === 'cancelled' ? 'cancelled' : 'done' });
    process.stdout.write(JSON.stringify(result, null, 2) + '\n');
    if (result.status === 'cancelled') throw new CliError(`train: cancelled at step ${result.step}; checkpoint in ${result.finalDir} (continue with --resume)`, EXIT.cancelled);
  });
}
