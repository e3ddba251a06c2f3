// Crash recovery: the gpu worker runs as a separate process (node dist/workers/main.js); it is SIGKILLed while the
// base model trains, after at least one checkpoint manifest is in the store. A new worker process picks up the
// retried attempt, which resumes from that checkpoint (step > 0), and the final weights equal those of the same
// training run done without interruption. That worker is then stopped with SIGTERM while the corrupt stage trains:
// it checkpoints at the next step, exits cleanly, and a third worker continues from there.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { WorkerProcesses, exited } from './worker-processes';
import { openStore } from '../../store/open';
import { runTrainJob } from '../../train/job';
import type { TrainStageInput } from '../../contract/activities';
import { startLineage } from '../../temporal/lineage-client';
import { progressQuery } from '../../contract/lineage';
import { connectTemporal, testWorkers, tinyConfig, tmpDir, uniquePrefix, waitFor, type TemporalContext } from '../support/helpers';
import type { RunningWorkers } from '../../workers/run-worker';

let ctx: TemporalContext;
let local: RunningWorkers;
const prefix = uniquePrefix('crash');
const processes = new WorkerProcesses(prefix);

/** A gpu worker process on this test's queues; its output is kept for failure messages. */
before(async () => {
  ctx = await connectTemporal();
  local = await testWorkers(ctx, prefix, { queues: ['orchestrator', 'cpu'] });
});
after(async () => {
  processes.killAll();
  await local?.shutdown();
  await ctx?.close();
});

test('SIGKILL of the gpu worker mid-training: the retry resumes from the checkpoint with the same final weights; SIGTERM checkpoints and exits', async () => {
  const storeDir = tmpDir('crash-store');
  const store = openStore(storeDir);
  const loaded = tinyConfig(storeDir, ['model.train.steps=120', 'checkpoint_every=10', 'corrupt.epochs=12']);
  const first = processes.gpu();
  const started = await startLineage(ctx.client, loaded, {
    queues: prefix,
    codeVersion: 'test-crash',
    options: { heartbeatTimeout: '4s', retryInitialInterval: '1s', progressIntervalMs: 500 },
  });

  // Wait for a durable checkpoint of the base stage, then kill the worker process without warning.
  const manifest = await waitFor('a base checkpoint manifest in the store', async () =>
    (await store.list('stages/')).find((k) => /^stages\/base-[0-9a-f]+\/checkpoints\/step-\d+\.json$/.test(k)),
  );
  assert.ok(first.child.exitCode === null, `the first worker is still running:\n${first.output()}`);
  first.child.kill('SIGKILL');
  await exited(first.child);
  assert.equal(first.child.signalCode, 'SIGKILL');
  const killedAfter = Number(/step-(\d+)\.json$/.exec(manifest)![1]);
  assert.ok(killedAfter > 0 && killedAfter < 120, `killed after step ${killedAfter}, before the end`);

  const second = processes.gpu();
  // Graceful stop while the corrupt stage trains: the job checkpoints at its next step and the process exits 0.
  const corrupt = await waitFor('the corrupt stage to report progress', async () => {
    const p = await started.handle.query(progressQuery);
    return p.stages.find((s) => s.stage === 'corrupt' && s.status === 'running' && (s.step ?? 0) > 0);
  }, 300_000);
  second.child.kill('SIGTERM');
  await exited(second.child);
  assert.equal(second.child.exitCode, 0, `the second worker shut down cleanly:\n${second.output()}`);
  const third = processes.gpu();
  const result = await started.handle.result().catch((err: Error) => {
    throw new Error(`${err.message}\n--- third worker output ---\n${third.output()}`);
  });
  const base = result.stages.base;
  assert.equal(base.metrics.steps, 120);
  assert.ok(base.metrics.resumedFromStep >= killedAfter, `the retried attempt resumed from step ${base.metrics.resumedFromStep} (>= ${killedAfter})`);
  assert.ok(base.metrics.resumedFromStep < 120, 'it resumed mid-run, not from the final checkpoint');
  assert.ok(Object.values(result.statuses).every((s) => s === 'done'), 'the lineage completed after the crash');
  assert.ok(result.stages.corrupt.metrics.resumedFromStep >= corrupt.step!, `corrupt resumed from step ${result.stages.corrupt.metrics.resumedFromStep} (stopped after ${corrupt.step})`);

  // The history shows the retry: the base training activity completed on attempt >= 2.
  const history = await started.handle.fetchHistory();
  const baseStarted = (history.events ?? [])
    .map((e) => e.activityTaskStartedEventAttributes)
    .filter((a): a is NonNullable<typeof a> => !!a)
    .map((a) => a.attempt ?? 1);
  assert.ok(Math.max(...baseStarted) >= 2, `some activity was retried (attempts ${baseStarted.join(',')})`);

  // The same training run without interruption (same job input, outside Temporal) ends with identical weights.
  const scheduled = (history.events ?? []).find((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'trainStage');
  const converter = ctx.client.options.loadedDataConverter.payloadConverter;
  const input = converter.fromPayload(scheduled!.activityTaskScheduledEventAttributes!.input!.payloads![0]) as TrainStageInput;
  assert.equal(input.stage, 'base');
  assert.ok('init' in input.from);
  const out = tmpDir('crash-uninterrupted');
  const job = await runTrainJob({
    kind: 'train', backend: input.backend, baseDir: input.from.init, outDir: out, finalDir: path.join(out, 'final'),
    data: input.data, train: input.train, checkpointEvery: input.checkpointEvery,
  });
  assert.equal(job.status, 'completed');
  const sha = createHash('sha256').update(fs.readFileSync(path.join(out, 'final', 'model.safetensors'))).digest('hex');
  assert.equal(base.weights?.checkpoint, sha, 'resumed weights equal the uninterrupted run\'s');

  third.child.kill('SIGTERM');
  await exited(third.child);
  assert.equal(third.child.exitCode, 0, `the third worker shut down cleanly:\n${third.output()}`);
});
