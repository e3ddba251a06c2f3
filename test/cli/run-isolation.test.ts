// Issue 14: a run whose workers are in this process gets queues of its own (so its single train/trace slot never
// serves another lineage left running on the same server); input errors of the model are not retried; TensorFlow's
// start-up lines are dropped by the views; the bench flags a stage that stalls relative to its backend's pace.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { compareStageTimes, stageSecondsFromEvents, type LineageStageTimes } from '../../bench/lineage-backends';
import { runQueuePrefix } from '../../cli/commands/run';
import { isTensorflowStartupNoise } from '../../cli/view/tf-noise';
import { DEFAULT_QUEUE_PREFIX } from '../../contract/lineage';
import { connectTemporal, TINY_CONFIG } from '../support/helpers';
import { runCli, testTemporalAddress, type CliResult } from './cli-process';

const exitOf = (r: CliResult) => `exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`;

// The stall of issue 14: a lineage left running on the server's default queues (an interrupted `run`, which is not
// cancelled, or a `run --detach`) resumes when the next command brings the server back; an in-process worker on those
// queues ran its stages in its one train/trace slot, and the new run's stages waited minutes behind them.
test('run: its in-process worker leaves a lineage waiting on the default queues untouched', { timeout: 600_000 }, async () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'plasticity-isolation-'));
  const env = { TEMPORAL_ADDRESS: testTemporalAddress(), PLASTICITY_TASK_QUEUE_PREFIX: undefined };
  const name = `isolation-${process.pid}-${Date.now().toString(36)}`;
  const waiting = await runCli(['run', TINY_CONFIG, '--detach', '--json', '--set', `name=${name}-waiting`, '--set', `store=${tmp}/waiting`], env);
  assert.equal(waiting.code, 0, exitOf(waiting));
  const waitingId = (JSON.parse(waiting.stdout.trim().split('\n')[0]) as { workflowId: string }).workflowId;
  const temporal = await connectTemporal();
  try {
    const r = await runCli(['run', TINY_CONFIG, '--json', '--set', `name=${name}`, '--set', `store=${tmp}/run`], env, { timeoutMs: 590_000 });
    assert.equal(r.code, 0, exitOf(r));
    const handle = temporal.client.workflow.getHandle(waitingId);
    const d = await handle.describe();
    assert.equal(d.taskQueue, `${DEFAULT_QUEUE_PREFIX}-orchestrator`);
    const history = await handle.fetchHistory();
    const served = (history.events ?? []).filter((e) => e.workflowTaskStartedEventAttributes || e.activityTaskStartedEventAttributes);
    assert.deepEqual(served, [], `the waiting lineage ${waitingId} was served by the run's worker`);
    assert.match(r.stderr, /in-process worker on plasticity-run-[0-9a-f]{8}-orchestrator/);
  } finally {
    await temporal.client.workflow.getHandle(waitingId).terminate('test done').catch(() => undefined);
    await temporal.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});

test('run: in-process workers get a per-run queue prefix unless one is chosen', () => {
  const a = runQueuePrefix(undefined, true, {});
  const b = runQueuePrefix(undefined, true, {});
  assert.match(a, /^plasticity-run-[0-9a-f]{8}$/);
  assert.notEqual(a, b);
  assert.equal(runQueuePrefix(undefined, false, {}), 'plasticity'); // --detach / --no-worker / remote: shared queues
  assert.equal(runQueuePrefix('mine', true, {}), 'mine');
  assert.equal(runQueuePrefix(undefined, true, { PLASTICITY_TASK_QUEUE_PREFIX: 'team' }), 'team');
});

test("TensorFlow's start-up lines are recognised, other lines are not", () => {
  assert.ok(isTensorflowStartupNoise('WARNING: All log messages before absl::InitializeLog() is called are written to STDERR'));
  assert.ok(isTensorflowStartupNoise('I0000 00:00:1796226442.624058    6274 port.cc:153] oneDNN custom operations are on. You may see'));
  assert.ok(isTensorflowStartupNoise('I0000 00:00:1796226443.278377    6274 cpu_feature_guard.cc:227] This TensorFlow binary is optimized'));
  assert.ok(isTensorflowStartupNoise('To enable the following instructions: AVX2 FMA, in other operations, rebuild TensorFlow with the appropriate compiler flags.'));
  assert.ok(!isTensorflowStartupNoise('base: done after 3s loss 4.688'));
  assert.ok(!isTensorflowStartupNoise('WARNING: disk almost full'));
});

test('bench: a stage far slower than its backend usually is gets flagged; a uniformly slower backend does not', () => {
  const run = (backend: 'tensorflow' | 'wasm', stages: Record<string, number>): LineageStageTimes => ({ backend, seconds: 0, stages, loadavg: [0, 0] });
  const wasm = run('wasm', { base: 10, finetune: 8, 'trace-base': 4, corrupt: 6 });
  const slow = compareStageTimes([run('tensorflow', { base: 30, finetune: 24, 'trace-base': 12, corrupt: 18 }), wasm]);
  assert.ok(slow.every((r) => !r.flagged), JSON.stringify(slow));
  const stalled = compareStageTimes([run('tensorflow', { base: 215, finetune: 8, 'trace-base': 4, corrupt: 6 }), wasm]);
  assert.deepEqual(stalled.filter((r) => r.flagged).map((r) => r.stage), ['base']);
});

test("bench: stage seconds come from run --json's done events only", () => {
  const events = [
    { type: 'start', workflowId: 'w' },
    { type: 'stage', stage: 'base', status: 'running' },
    { type: 'progress', stage: 'base', step: 4, total: 24 },
    { type: 'stage', stage: 'base', status: 'done', seconds: 2.345 },
    { type: 'stage', stage: 'trace-base', status: 'cached', seconds: 0 },
    { type: 'end', status: 'completed' },
  ];
  assert.deepEqual(stageSecondsFromEvents(events.map((e) => JSON.stringify(e)).join('\n') + '\n'), { base: 2.3 });
});
