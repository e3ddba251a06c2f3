// Trace stages: materialise the traced checkpoint (and the CMAP donor, the previous model in the lineage) from the
// store, run the tracing suite off-thread (tracing/job.ts), and store the StageTrace (and CmapPair) JSON as blobs.
import { Context } from '@temporalio/activity';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import type { ExperimentConfig } from '../config/schema';
import type { ArtifactStore } from '../store/artifact-store';
import { runJob } from '../jobs/offthread';
import { TRACE_JOB, type TraceJobInput, type TraceJobResult } from '../tracing/job';
import type { TraceProgress } from '../tracing/stage';
import { circuitFromConfig } from '../tracing/circuit-config';
import type { TraceStageInput } from '../contract/activities';
import type { StageOutput } from '../contract/lineage';
import type { ArtifactRef } from '../store/artifact-ref';
import { recordStage } from './cache';
import { materialiseCheckpoint, readFile } from '../checkpoint/store';
import { mapErrors } from './errors';
import { startProgress } from './progress';
import { stopSignal, stoppedError } from './stop';
import { attemptWorkDir, removeWorkDir } from './train';

export function traceActivity(openStore: (url: string) => ArtifactStore, shutdown?: AbortSignal) {
  return async function traceStage(input: TraceStageInput): Promise<StageOutput> {
    const ctx = Context.current();
    const info = ctx.info;
    const startedAt = new Date().toISOString();
    const store = openStore(input.store);
    const workDir = attemptWorkDir(info, input.stage);
    return mapErrors(`stage ${input.stage}`, async () => {
      await fs.mkdir(workDir, { recursive: true });
      const progress = startProgress(input.stage, { intervalMs: input.progressIntervalMs });
      try {
        const modelDir = await materialiseCheckpoint(store, input.checkpoint, path.join(workDir, 'model'));
        const donorDir = input.donor ? await materialiseCheckpoint(store, input.donor.checkpoint, path.join(workDir, 'donor')) : undefined;
        const job: TraceJobInput = {
          backend: input.backend,
          modelDir,
          prompts: { n: input.trace.n, seed: input.trace.seed },
          methods: input.trace.methods,
          stage: input.label,
          role: input.role,
          ablation: input.trace.ablation,
          circuit: input.trace.circuit ? (input.trace.circuits?.length ? { circuits: input.trace.circuits.map(circuitFromConfig) } : {}) : false,
          ...(input.trace.memory_budget_mb !== undefined ? { memoryBudgetMB: input.trace.memory_budget_mb } : {}),
          outFile: path.join(workDir, 'trace.json'),
          ...(donorDir && input.donor ? { donorDir, donorStage: input.donor.label, cmapOutFile: path.join(workDir, 'cmap.json') } : {}),
        };
        const result = await runJob<TraceJobResult, TraceProgress>(TRACE_JOB, job, {
          signal: stopSignal(ctx, shutdown),
          // Steps (methods) as whole numbers; inside a step, its share of items done (ETA over the stage follows).
          onProgress: (p) => progress.report({
            step: p.done + (p.item && p.item.total > 0 ? p.item.done / p.item.total : 0),
            total: p.total,
            detail: p.item ? `${p.step} ${p.item.done}/${p.item.total}${p.item.etaSeconds !== undefined ? `, ETA ${p.item.etaSeconds} s` : ''}` : p.step,
          }),
        });
        if (result.status === 'cancelled' || !result.outFile) {
          await progress.flush();
          throw await stoppedError(ctx, `stage ${input.stage} stopped`);
        }
        const outputs: Record<string, ArtifactRef> = { trace: await store.putBlob(readFile(result.outFile), 'trace') };
        if (result.cmapOutFile) outputs.cmap = await store.putBlob(readFile(result.cmapOutFile), 'cmap');
        const metrics: Record<string, number> = {};
        for (const [name, value] of Object.entries(result.metrics ?? {})) if (Number.isFinite(value)) metrics[`ioi.${name}`] = value;
        metrics.seconds = Object.values(result.timingsMs).reduce((a, b) => a + b, 0) / 1000;
        const output: StageOutput = {
          stage: input.stage,
          kind: 'trace',
          key: input.key,
          outputs,
          artifacts: Object.values(outputs),
          metrics,
          startedAt,
          finishedAt: new Date().toISOString(),
        };
        await recordStage(store, output);
        return output;
      } finally {
        progress.stop();
        await removeWorkDir(workDir);
      }
    });
  };
}
