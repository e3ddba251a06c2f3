// The lineage without Temporal: the same stage sequence (lineage/stages.ts) and the same activity functions, called
// directly in a mock activity context (heartbeats and progress signals go nowhere). Same store writes, same
// off-thread jobs, same stage cache — so timing it against the workflow measures the orchestration overhead.
import { MockActivityEnvironment } from '@temporalio/testing';
import type { LoadedConfig } from '../config/load';
import { taskQueues, type LineageResult, type StageOutput } from '../contract/lineage';
import { runLineageStages, type StageRunner } from './stages';
import { createActivities, type ActivityDeps } from '../activities';

export interface LocalLineageOptions extends ActivityDeps {
  codeVersion: string;
  /** Called on every stage transition. */
  onStage?: (stage: string, status: 'running' | 'done' | 'cached' | 'failed', output?: StageOutput) => void;
}

export async function runLineageLocally(loaded: LoadedConfig, opts: LocalLineageOptions): Promise<LineageResult> {
  const acts = createActivities(opts);
  const workflowId = `local-${loaded.config.name}-${loaded.hash.slice(0, 8)}`;
  const call = <A, R>(fn: (a: A) => Promise<R>, activityType: string) => (args: A) =>
    new MockActivityEnvironment({ activityType, workflowExecution: { workflowId, runId: 'local' } }).run(fn, args) as Promise<R>;
  const runner: StageRunner = {
    validate: call(acts.validateConfig, 'validateConfig'),
    lookup: call(acts.lookupStage, 'lookupStage'),
    importModel: call(acts.importModel, 'importModel'),
    train: call(acts.trainStage, 'trainStage'),
    trace: call(acts.traceStage, 'traceStage'),
    compare: call(acts.compareStage, 'compareStage'),
    report: call(acts.reportStage, 'reportStage'),
  };
  const input = { config: loaded.config, configHash: loaded.hash, codeVersion: opts.codeVersion, queues: taskQueues('local') };
  return runLineageStages(input, runner, {
    running: (stage, key) => key === undefined && opts.onStage?.(stage, 'running'),
    finished: (stage, output, cached) => opts.onStage?.(stage, cached ? 'cached' : 'done', output),
    failed: (stage, err) => {
      opts.onStage?.(stage, 'failed');
      return err;
    },
    optionalFailed: () => false,
  });
}
