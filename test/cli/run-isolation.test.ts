// Issue 14: a run whose workers are in this process gets queues of its own (so its single train/trace slot never
// serves another lineage left running on the same server); input errors of the model are not retried; TensorFlow's
// start-up lines are dropped by the views; the bench flags a stage that stalls relative to its backend's pace.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compareStageTimes, type LineageStageTimes } from '../../bench/lineage-backends';
import { runQueuePrefix } from '../../cli/commands/run';
import { isTensorflowStartupNoise } from '../../cli/view/tf-noise';

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
