// Train stages (pretrain, finetune, corrupt, retrain): materialise the parent checkpoint from the store into a
// per-attempt folder, resume from the newer of the last heartbeat and the newest checkpoint manifest in the store,
// train off-thread (train/job.ts runTrainJob), commit every checkpoint to the store (blobs, then manifest, then
// retention), heartbeat {step, total, checkpoint, loss}, and return a StageOutput of references and small metrics.
// Cancellation (workflow cancel, heartbeat timeout, worker shutdown) stops the job at a step boundary; its last
// checkpoint is committed before the cancellation is rethrown.
import { Context, type Info as ActivityInfo } from '@temporalio/activity';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { ArtifactStore } from '../store/artifact-store';
import { checkpointKey } from '../checkpoint/series';
import { safeSegment } from '../store/safe-segment';
import { isProcessAlive } from '../temporal/process-alive';
import { runTrainJob, type TrainJobResult } from '../train/job';
import type { TrainStageInput } from '../contract/activities';
import type { StageOutput, TrainHeartbeatDetails } from '../contract/lineage';
import type { ArtifactRef } from '../store/artifact-ref';
import { recordStage } from './cache';
import {
  checkpointSeries,
  commitCheckpoint,
  dropResumeState,
  materialiseCheckpoint,
  materialiseResume,
  weightsOnly,
  type CheckpointManifest,
} from '../checkpoint/store';
import { mapErrors } from './errors';
import { startProgress } from './progress';
import { stopSignal, stoppedError } from './stop';

/** Root of per-attempt work folders: <root>/<workflow id>/<stage>/attempt-<n>-<pid>-<ms>, removed when the attempt ends. */
export const workRoot = () => path.join(os.tmpdir(), 'plasticity-work');
export { safeSegment };

/** This attempt's own work folder (a retried or zombie attempt never shares one), always inside workRoot(). */
export function attemptWorkDir(info: ActivityInfo, stage: string): string {
  const dir = path.join(workRoot(), safeSegment(info.workflowExecution?.workflowId ?? 'standalone'), safeSegment(stage), `attempt-${info.attempt}-${process.pid}-${Date.now()}`);
  if (!dir.startsWith(workRoot() + path.sep)) throw new Error(`work folder ${dir} is outside ${workRoot()}`); // unreachable by construction
  return dir;
}

/**
 * Removes attempt folders left by processes that no longer run (a SIGKILLed or OOM-killed worker never cleans up):
 * the folder name carries the pid (attempt-<n>-<pid>-<ms>). Returns the folders removed. Called on worker start.
 */
export async function removeStaleWorkDirs(root: string = workRoot()): Promise<string[]> {
  const removed: string[] = [];
  const children = async (dir: string) => (await fs.readdir(dir, { withFileTypes: true }).catch(() => [])).filter((e) => e.isDirectory()).map((e) => path.join(dir, e.name));
  for (const wf of await children(root)) {
    for (const stage of await children(wf)) {
      for (const attempt of await children(stage)) {
        const pid = Number(/^attempt-\d+-(\d+)-\d+$/.exec(path.basename(attempt))?.[1]);
        if (!pid || isProcessAlive(pid)) continue;
        await removeWorkDir(attempt);
        removed.push(attempt);
      }
    }
  }
  return removed;
}

/** Removes an attempt folder, then its stage and workflow folders if nothing else is left in them. */
export async function removeWorkDir(workDir: string): Promise<void> {
  await fs.rm(workDir, { recursive: true, force: true });
  for (let dir = path.dirname(workDir); dir.startsWith(workRoot() + path.sep); dir = path.dirname(dir)) {
    if (!(await fs.rmdir(dir).then(() => true, () => false))) break; // not empty (another attempt or stage): keep
  }
}

export function trainActivity(openStore: (url: string) => ArtifactStore, shutdown?: AbortSignal) {
  return async function trainStage(input: TrainStageInput): Promise<StageOutput> {
    const ctx = Context.current();
    const info = ctx.info;
    const startedAt = new Date().toISOString();
    const store = openStore(input.store);
    const series = checkpointSeries(input.key);
    const workDir = attemptWorkDir(info, input.stage);
    const markByStep = new Map(Object.entries(input.marks ?? {}).map(([label, step]) => [step, label]));

    return mapErrors(`stage ${input.stage}`, async () => {
      await fs.mkdir(workDir, { recursive: true });
      try {
        // Resume point: the newer of the last heartbeat's checkpoint and the store's newest manifest.
        const hb = info.heartbeatDetails as TrainHeartbeatDetails | undefined;
        // Only in-progress checkpoints (with moments) resume; a stage's outputs are weights-only.
        const resume = await materialiseResume(store, series, hb?.checkpoint, path.join(workDir, 'resume'));
        const resumeDir = resume?.dir;
        const resumedFromStep = resume?.manifest.step ?? 0;
        const baseDir = 'checkpoint' in input.from
          ? await materialiseCheckpoint(store, input.from.checkpoint, path.join(workDir, 'parent'))
          : input.from.init;

        const progress = startProgress(input.stage, {
          intervalMs: input.progressIntervalMs,
          resumedFromStep,
          initial: { step: resumedFromStep, total: input.train.steps ?? 0, ...(resume ? { checkpoint: resume.key } : {}) },
        });
        let commits = Promise.resolve();
        let finalCommit: Awaited<ReturnType<typeof commitCheckpoint>> | undefined;
        let result: TrainJobResult;
        try {
          result = await runTrainJob(
            {
              kind: 'train',
              backend: input.backend,
              baseDir,
              ...(resumeDir ? { resumeDir } : {}),
              outDir: path.join(workDir, 'out'),
              finalDir: path.join(workDir, 'final'),
              data: input.data,
              train: input.train,
              checkpointEvery: input.checkpointEvery,
              finalOptimizer: false, // the final checkpoint is an output: weights only
            },
            {
              signal: stopSignal(ctx, shutdown),
              onProgress: (p) => progress.report({ step: p.step, total: p.total, loss: p.loss }),
              onCheckpoint: ({ step, dir }) => {
                const isFinal = dir === path.join(workDir, 'final');
                const label = isFinal ? 'checkpoint' : markByStep.get(step);
                commits = commits.then(async () => {
                  // link: the job never rewrites a folder it handed over, and it is removed after the commit
                  const committed = await commitCheckpoint(store, series, dir, step, { label, final: label !== undefined, keepLast: input.retention, link: true });
                  if (isFinal) finalCommit = committed;
                  else await fs.rm(dir, { recursive: true, force: true });
                  progress.report({ step, checkpoint: committed.manifestKey });
                });
                commits.catch(() => undefined); // handled: awaited below, after the job
                // Not returned: the job does not wait for uploads (its thread may exit before they finish).
              },
            },
          );
          await commits;
        } finally {
          progress.stop();
          await commits.catch(() => undefined); // never delete the folders while a commit still reads them
        }

        if (result.status === 'cancelled') {
          // The job stopped at a step boundary and its checkpoint is committed: tell the workflow where it stopped.
          progress.report({ step: result.step });
          await progress.flush();
          throw await stoppedError(ctx, `stage ${input.stage} stopped at step ${result.step} (checkpoint committed)`);
        }
        if (!finalCommit) throw new Error(`stage ${input.stage}: the job finished without a final checkpoint`);

        // Outputs are weights-only: the moments of a marked checkpoint were kept only while the stage could resume.
        const outputs: Record<string, ArtifactRef> = { checkpoint: await weightsOnly(store, finalCommit.uploaded.ref) };
        const weights: Record<string, string> = { checkpoint: finalCommit.uploaded.weightsSha256 };
        const outputSteps = new Map([[result.step, { ref: outputs.checkpoint, label: 'checkpoint' }]]);
        for (const [label, step] of Object.entries(input.marks ?? {})) {
          if (step === result.step) {
            outputs[label] = outputs.checkpoint;
            weights[label] = finalCommit.uploaded.weightsSha256;
            continue;
          }
          const manifest = await store.getJson<CheckpointManifest>(checkpointKey(series, step));
          if (!manifest) throw new Error(`stage ${input.stage}: checkpoint ${label} (step ${step}) is missing from ${store.url}/${series}`);
          outputs[label] = await weightsOnly(store, manifest.checkpoint);
          weights[label] = manifest.weightsSha256;
          outputSteps.set(step, { ref: outputs[label], label });
        }
        const output: StageOutput = {
          stage: input.stage,
          kind: input.stage === 'base' ? 'base' : 'train',
          key: input.key,
          outputs,
          weights,
          artifacts: uniqueRefs(Object.values(outputs)),
          metrics: { ...(input.metrics ?? {}), ...trainMetrics(result), resumedFromStep },
          startedAt,
          finishedAt: new Date().toISOString(),
        };
        await recordStage(store, output);
        await dropResumeState(store, series, outputSteps); // after the record: a crash before it can still resume
        return output;
      } finally {
        await removeWorkDir(workDir);
      }
    });
  };
}

function trainMetrics(result: TrainJobResult): Record<string, number> {
  const m = result.metrics;
  const out: Record<string, number> = { steps: result.step, seconds: m.seconds, tokens: m.tokens };
  if (m.loss !== null) out.loss = m.loss;
  if (m.lossRecentMean !== null) out.loss_recent_mean = m.lossRecentMean;
  for (const [name, value] of Object.entries(m.ioi ?? {})) if (typeof value === 'number' && Number.isFinite(value)) out[`ioi.${name}`] = value;
  return out;
}

function uniqueRefs(refs: ArtifactRef[]): ArtifactRef[] {
  const seen = new Set<string>();
  return refs.filter((r) => !seen.has(r.sha256) && seen.add(r.sha256) !== undefined);
}
