import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { readCheckpointMeta, verifyCheckpoint } from '../../checkpoint/folder';
import type { Progress } from '../../train/loop';
import { registerJob, runJob, startJob } from '../../jobs/offthread';
import { runTrainJob } from '../../train/job';
import { TEST_BACKEND, tinyJob, tmpDir } from '../train/helpers';

test('training runs off the main thread: the caller\'s timers and I/O keep running during the job', async () => {
  const out = tmpDir('offthread');
  let ticks = 0;
  let ticksDuringTraining = 0;
  let reads = 0;
  let firstProgress = false;
  let finished = false;
  const timer = setInterval(() => {
    ticks++;
    if (firstProgress && !finished) ticksDuringTraining++;
  }, 5);
  const readLoop = (async () => {
    while (!finished) {
      await fs.promises.readFile(__filename);
      if (firstProgress) reads++;
      await new Promise((r) => setTimeout(r, 5));
    }
  })();
  const progress: Progress[] = [];
  try {
    const result = await runTrainJob(tinyJob(out, { train: { steps: 60, log_every: 1 } }), {
      onProgress: (p) => {
        firstProgress = true;
        progress.push(p);
      },
    });
    finished = true;
    assert.equal(result.status, 'completed');
    assert.equal(result.step, 60);
    assert.equal(result.backend, TEST_BACKEND);
    assert.deepEqual(progress.map((p) => p.step), Array.from({ length: 60 }, (_, i) => i + 1));
    assert.ok(progress.every((p) => Number.isFinite(p.loss) && p.tokensPerSec > 0 && p.total === 60));
    assert.ok(ticksDuringTraining >= 10, `the interval fired ${ticksDuringTraining} times between the first progress message and done`);
    assert.ok(reads >= 3, `file reads completed during training: ${reads}`);
    verifyCheckpoint(result.finalDir);
    assert.ok(result.metrics.ioi && result.metrics.ioi.n === 16, 'held-out IOI metrics in the result');
  } finally {
    finished = true;
    clearInterval(timer);
    await readLoop;
  }
  assert.ok(ticks > ticksDuringTraining);
});

test('abort: the job stops at a step boundary, writes a checkpoint and resolves as cancelled', async () => {
  const out = tmpDir('abort');
  const controller = new AbortController();
  const announced: { step: number; dir: string }[] = [];
  const result = await runTrainJob(tinyJob(out, { train: { steps: 400, log_every: 1 } }), {
    signal: controller.signal,
    onProgress: (p) => {
      if (p.step >= 5) controller.abort();
    },
    onCheckpoint: async (c) => {
      announced.push(c);
    },
  });
  assert.equal(result.status, 'cancelled');
  assert.ok(result.step >= 5 && result.step < 400, `stopped at step ${result.step}`);
  assert.equal(result.finalDir, path.join(out, `step-${String(result.step).padStart(6, '0')}`));
  assert.deepEqual(announced, [{ step: result.step, dir: result.finalDir }]);
  const meta = verifyCheckpoint(result.finalDir);
  assert.equal(meta.status, 'cancelled');
  assert.equal(meta.step, result.step);
  assert.equal(meta.backend, TEST_BACKEND);
  assert.equal(readCheckpointMeta(result.finalDir).total_steps, 400);
});

test('errors inside the thread reject the promise with the job\'s message', async () => {
  const out = tmpDir('err');
  await assert.rejects(runTrainJob(tinyJob(out, { baseDir: path.join(out, 'missing-model') })), /model folder .*missing-model: not found/);
  await assert.rejects(runTrainJob({ ...tinyJob(out), train: { lr: -1 } }), /job\.train\.lr: /);
});

test('terminate() is a hard stop: the result rejects', async () => {
  const out = tmpDir('terminate');
  let handle: ReturnType<typeof startJob> | undefined;
  let sawProgress = false;
  handle = startJob('train', tinyJob(out, { train: { steps: 400, log_every: 1 } }), {
    onProgress: () => {
      if (!sawProgress) {
        sawProgress = true;
        void handle!.terminate();
      }
    },
  });
  await assert.rejects(handle.result, /train job: terminated/);
  assert.ok(sawProgress);
});

test('the job registry runs any registered module export in a thread (how a trace job plugs in)', async () => {
  registerJob('echo', path.join(__dirname, 'fixtures', 'echo-job'), 'runEchoJob');
  const steps: number[] = [];
  const result = await runJob<{ status: string; step: number; threadIsMain: boolean }, { step: number }>('echo', { steps: 4 }, { onProgress: (p) => steps.push(p.step) });
  assert.deepEqual(result, { status: 'completed', step: 4, threadIsMain: false });
  assert.deepEqual(steps, [1, 2, 3, 4]);
  await assert.rejects(runJob('echo', { steps: 1, fail: true }), /echo job: asked to fail/);
  assert.throws(() => startJob('nope', {}), /job kind "nope" is not registered; known: train, echo/); // train: registered by importing train/job
  registerJob('broken', path.join(__dirname, 'fixtures', 'echo-job'), 'noSuchExport');
  await assert.rejects(runJob('broken', {}), /has no function export 'noSuchExport'/);
});

test('a checkpoint callback that fails (e.g. an upload) fails the job and stops the thread', async () => {
  const out = tmpDir('cb-fail');
  let progressAfterFailure = 0;
  let failed = false;
  await assert.rejects(
    runTrainJob(tinyJob(out, { train: { steps: 400, log_every: 1, checkpoint_every: 3 } }), {
      onProgress: () => {
        if (failed) progressAfterFailure++;
      },
      onCheckpoint: async () => {
        failed = true;
        throw new Error('upload refused');
      },
    }),
    /upload refused/,
  );
  await new Promise((r) => setTimeout(r, 500));
  assert.equal(fs.existsSync(path.join(out, 'final')), false, 'the job did not run on to the end');
  assert.ok(progressAfterFailure < 50, `the thread was stopped (${progressAfterFailure} progress messages after the failure)`);
});
