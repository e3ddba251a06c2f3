// What a user sees of a running stage, with the gpu activities replaced by simulations on a real workflow and server:
// a retrying activity's last error (status --json, the progress query / UI details), and the history a long stage
// adds (progress signals at a doubling interval, so a 48-hour stage stays far from Temporal's 10 k-event warning).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { Worker } from '@temporalio/worker';
import { createActivities } from '../../activities';
import { MAX_INTERVAL_FACTOR, startProgress } from '../../activities/progress';
import type { TrainStageInput } from '../../contract/activities';
import { progressQuery } from '../../contract/lineage';
import { startLineage } from '../../temporal/lineage-client';
import { runCli, testTemporalAddress } from '../cli/cli-process';
import { connectTemporal, testWorkers, tinyConfig, tmpDir, uniquePrefix, waitFor, type TemporalContext } from '../support/helpers';
import type { RunningWorkers } from '../../workers/run-worker';

const prefix = uniquePrefix('observe');
let ctx: TemporalContext;
let workers: RunningWorkers;
let gpu: Worker;
let gpuDone: Promise<void>;

/** What the simulated train stage does, per workflow id. */
const behaviour = new Map<string, (input: TrainStageInput) => Promise<never>>();

before(async () => {
  ctx = await connectTemporal();
  workers = await testWorkers(ctx, prefix, { queues: ['orchestrator', 'cpu'] });
  gpu = await Worker.create({
    connection: ctx.connection,
    taskQueue: `${prefix}-gpu`,
    activities: {
      ...createActivities(),
      async trainStage(input: TrainStageInput) {
        const run = behaviour.get(Context.current().info.workflowExecution?.workflowId ?? "");
        if (!run) throw ApplicationFailure.nonRetryable('no simulation for this workflow', 'DataError');
        return run(input);
      },
    },
    maxHeartbeatThrottleInterval: '1s',
    defaultHeartbeatThrottleInterval: '1s',
  });
  gpuDone = gpu.run();
});

after(async () => {
  gpu?.shutdown();
  await gpuDone?.catch(() => undefined);
  await workers?.shutdown();
  await ctx?.close();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('a retrying activity shows its last attempt error in status --json and in the progress query', async () => {
  const loaded = tinyConfig(tmpDir('observe-retry'));
  const workflowId = `observe-retry-${Date.now()}`;
  behaviour.set(workflowId, async (input) => {
    startProgress(input.stage, { intervalMs: input.progressIntervalMs });
    await sleep(1500); // the retried attempt's progress reporter tells the workflow the previous error meanwhile (a signal: give it time under load)
    throw new Error('injected: the scratch disk went away'); // retryable
  });
  const started = await startLineage(ctx.client, loaded, {
    queues: prefix,
    workflowId,
    codeVersion: 'test-observe',
    options: { retryInitialInterval: '300ms', maxAttempts: 100 },
  });
  try {
    await waitFor('a third attempt', async () => {
      const d = await started.handle.describe();
      return (d.raw.pendingActivities?.[0]?.attempt ?? 0) >= 3 ? true : undefined;
    }, 60_000, 200);

    const status = await runCli(['status', workflowId, '--json'], { TEMPORAL_ADDRESS: testTemporalAddress() }, { timeoutMs: 60_000 });
    assert.equal(status.code, 0, status.stderr);
    const json = JSON.parse(status.stdout) as { status: string; failure: string | null; pending: Array<{ activity: string; attempt: number; lastFailure?: string }> };
    assert.equal(json.status, 'running');
    assert.match(json.failure ?? '', /injected: the scratch disk went away/, 'status --json names the last attempt error');
    const pending = json.pending.find((p) => p.activity === 'trainStage');
    assert.ok(pending && pending.attempt >= 3, `pending trainStage attempt ≥ 3: ${JSON.stringify(json.pending)}`);
    assert.match(pending.lastFailure ?? '', /injected/);

    const text = await runCli(['status', workflowId], { TEMPORAL_ADDRESS: testTemporalAddress() }, { timeoutMs: 60_000 });
    assert.match(text.stdout, /retrying: trainStage attempt \d+ .*the previous attempt failed: .*injected: the scratch disk went away/);

    const base = await waitFor('the previous error in the query', async () => {
      const p = await started.handle.query(progressQuery);
      const s = p.stages.find((x) => x.stage === 'base');
      return s?.lastError ? s : undefined;
    }, 30_000, 200);
    assert.match(base.lastError!, /injected: the scratch disk went away/, 'the query (and the UI details) show the previous attempt error');
  } finally {
    await started.handle.terminate('test over').catch(() => undefined);
  }
});

test('a long stage adds a bounded number of history events (progress signals at a doubling interval)', async () => {
  // Scaled time: the signal interval starts at 25 ms instead of 5 s (×200), so one real hour of stage time is 18 s.
  const intervalMs = 25;
  const scale = 5000 / intervalMs;
  const stageMs = 15_000;
  const loaded = tinyConfig(tmpDir('observe-history'));
  const workflowId = `observe-history-${Date.now()}`;
  let reports = 0;
  behaviour.set(workflowId, async (input) => {
    const progress = startProgress(input.stage, { intervalMs: input.progressIntervalMs });
    const t0 = Date.now();
    for (let step = 1; Date.now() - t0 < stageMs; step++) {
      progress.report({ step, total: 1_000_000, loss: 1 / step });
      reports++;
      await sleep(5);
    }
    progress.stop();
    throw ApplicationFailure.nonRetryable('simulated stage over', 'DataError');
  });
  const started = await startLineage(ctx.client, loaded, {
    queues: prefix,
    workflowId,
    codeVersion: 'test-observe',
    options: { progressIntervalMs: intervalMs },
  });
  await started.handle.result().catch(() => undefined);
  const events = (await started.handle.fetchHistory()).events ?? [];
  const scheduled = events.findIndex((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'trainStage');
  const ended = events.findIndex((e, i) => i > scheduled && (e.activityTaskFailedEventAttributes || e.activityTaskCompletedEventAttributes));
  assert.ok(scheduled >= 0 && ended > scheduled, 'the simulated stage ran and ended');
  const during = ended - scheduled - 1;
  const signals = events.slice(scheduled, ended).filter((e) => e.workflowExecutionSignaledEventAttributes).length;
  const simulatedHours = (stageMs * scale) / 3_600_000;
  // Bound: the interval doubles from I to 120·I (5 s → 10 min), so a stage of H hours sends at most
  // log2(120)+1 ≈ 8 signals while ramping up plus 6 per hour, each at most 4 events (signal + workflow task).
  const maxSignals = Math.ceil(Math.log2(MAX_INTERVAL_FACTOR)) + 1 + Math.ceil(simulatedHours * 6) + 1;
  const maxEvents = 4 * maxSignals + 4;
  console.log(
    `history bound: ${reports} progress reports over ${stageMs / 1000} s (= ${simulatedHours.toFixed(2)} h scaled ×${scale}) → ` +
      `${signals} signals, ${during} history events during the stage (bound ${maxEvents}); ` +
      `a 48 h stage: at most ${4 * (Math.ceil(Math.log2(MAX_INTERVAL_FACTOR)) + 2 + 48 * 6) + 4} events`,
  );
  assert.ok(signals >= 3, `progress still reaches the workflow (${signals} signals)`);
  assert.ok(during <= maxEvents, `${during} events during the stage, expected at most ${maxEvents}`);
});

test('a worker that dies mid-stage shows up as the last failure (heartbeat timeout) in status --json', async () => {
  const loaded = tinyConfig(tmpDir('observe-dead'));
  const workflowId = `observe-dead-${Date.now()}`;
  behaviour.set(workflowId, async () => {
    Context.current().heartbeat({ step: 1, total: 10 });
    await Context.current().cancelled.catch(() => undefined); // silent from now on, like a worker that was SIGKILLed
    throw new Error('unreachable');
  });
  const started = await startLineage(ctx.client, loaded, {
    queues: prefix,
    workflowId,
    codeVersion: 'test-observe',
    options: { heartbeatTimeout: '2s', retryInitialInterval: '200ms', maxAttempts: 100 },
  });
  try {
    await waitFor('a second attempt', async () => {
      const d = await started.handle.describe();
      return (d.raw.pendingActivities?.[0]?.attempt ?? 0) >= 2 ? true : undefined;
    }, 60_000, 200);
    const status = await runCli(['status', workflowId, '--json'], { TEMPORAL_ADDRESS: testTemporalAddress() }, { timeoutMs: 60_000 });
    const json = JSON.parse(status.stdout) as { failure: string | null };
    assert.match(json.failure ?? '', /heartbeat/i, `the dead worker is visible: ${status.stdout}`);
  } finally {
    await started.handle.terminate('test over').catch(() => undefined);
  }
});

test('following a run whose in-process worker died ends with exit 1 and says so', async () => {
  const { followRun } = await import('../../cli/follow');
  const { createLineageView } = await import('../../cli/view');
  const { CliError } = await import('../../cli/errors');
  const started = await startLineage(ctx.client, tinyConfig(tmpDir('observe-follow')), { queues: uniquePrefix('observe-noworker'), codeVersion: 'test-observe' });
  const sink = new (await import('node:stream')).PassThrough();
  sink.resume();
  try {
    const view = createLineageView({ mode: 'json', stream: sink, workflowId: started.workflowId });
    await assert.rejects(
      followRun(ctx.client, started.workflowId, view, { pollMs: 100, workerFailure: () => 'the in-process worker died: JavaScript heap out of memory' }),
      (err: unknown) => err instanceof CliError && err.exitCode === 1 && /in-process worker died: JavaScript heap out of memory; .* is still open/.test(err.message),
    );
  } finally {
    await started.handle.terminate('test over').catch(() => undefined);
  }
});
