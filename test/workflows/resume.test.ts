// Resume: a lineage terminated while its corrupt stage trains is resumed as a new run that reuses every completed
// stage (marked 'cached', no activity scheduled for them) and continues the interrupted stage from its last
// checkpoint. A third run of the same config finds every stage in the store's stage cache.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { openStore } from '../../store/open';
import { checkpointSeries } from '../../checkpoint/store';
import { resumeLineage, startLineage } from '../../temporal/lineage-client';
import { progressQuery } from '../../contract/lineage';
import { tinyConfig, tmpDir, waitFor, useTestWorkers } from '../support/helpers';

const shared = useTestWorkers('resume');
const prefix = shared.prefix;

async function scheduledActivities(handle: { fetchHistory(): Promise<{ events?: { activityTaskScheduledEventAttributes?: { activityType?: { name?: string | null } | null } | null }[] | null }> }) {
  const history = await handle.fetchHistory();
  return (history.events ?? []).map((e) => e.activityTaskScheduledEventAttributes?.activityType?.name).filter((n): n is string => !!n);
}

test('a terminated lineage resumes without recomputing completed stages, continuing the interrupted one', async () => {
  const storeDir = tmpDir('resume-store');
  const store = openStore(storeDir);
  const loaded = tinyConfig(storeDir, ['corrupt.epochs=12']);
  const options = { progressIntervalMs: 200 };
  const first = await startLineage(shared.ctx().client, loaded, { queues: prefix, codeVersion: 'test-resume', options });

  // Terminate once the corrupt stage has a durable checkpoint.
  const corruptKey = await waitFor('the corrupt stage to start', async () => {
    const p = await first.handle.query(progressQuery);
    return p.stages.find((s) => s.stage === 'corrupt' && s.status === 'running' && s.key)?.key;
  });
  await waitFor('a corrupt checkpoint manifest', async () => (await store.list(`${checkpointSeries(corruptKey)}/step-`))[0]);
  await first.handle.terminate('test: interrupt mid-lineage');
  const before = await first.handle.query(progressQuery);
  const completed = before.stages.filter((s) => s.status === 'done').map((s) => s.stage);
  assert.deepEqual(completed, ['validate', 'base', 'trace-base', 'finetune', 'trace-finetune-e1', 'trace-finetune-e2']);

  const resumed = await resumeLineage(shared.ctx().client, first.workflowId);
  assert.notEqual(resumed.workflowId, first.workflowId);
  assert.deepEqual(resumed.reused.sort(), ['base', 'finetune', 'trace-base', 'trace-finetune-e1', 'trace-finetune-e2']);
  assert.equal(resumed.lastCheckpoint?.stage, 'corrupt');
  assert.equal(resumed.lastCheckpoint?.key, corruptKey);
  assert.ok((resumed.lastCheckpoint?.step ?? 0) > 0);
  assert.equal(resumed.input.reuse?.from, first.workflowId);

  const result = await resumed.handle.result();
  for (const stage of ['base', 'trace-base', 'finetune', 'trace-finetune-e1', 'trace-finetune-e2']) {
    assert.equal(result.statuses[stage], 'cached', `${stage} is reused`);
  }
  for (const stage of ['corrupt', 'trace-corrupt', 'retrain', 'trace-retrain', 'compare']) assert.equal(result.statuses[stage], 'done', `${stage} runs`);
  assert.ok(result.stages.corrupt.metrics.resumedFromStep >= resumed.lastCheckpoint!.step, 'corrupt continued from its last checkpoint');
  assert.equal(result.stages.corrupt.key, corruptKey);
  // Nothing reused was scheduled again: only the interrupted stage onwards ran activities.
  const ran = await scheduledActivities(resumed.handle);
  assert.deepEqual(ran.filter((n) => n === 'trainStage').length, 2, `train activities: corrupt, retrain (${ran.join(', ')})`);
  assert.deepEqual(ran.filter((n) => n === 'traceStage').length, 2, 'trace activities: corrupt, retrain');
  const progress = await resumed.handle.query(progressQuery);
  assert.deepEqual(progress.stages.filter((s) => s.status === 'cached').map((s) => s.stage), ['base', 'trace-base', 'finetune', 'trace-finetune-e1', 'trace-finetune-e2']);

  // A completed run cannot be resumed; a new run of the same config reuses every stage from the store's cache.
  await assert.rejects(resumeLineage(shared.ctx().client, resumed.workflowId), /is COMPLETED; only failed, cancelled, terminated, timed_out runs can be resumed/);
  const again = await startLineage(shared.ctx().client, loaded, { queues: prefix, codeVersion: 'test-resume', options });
  const third = await again.handle.result();
  assert.ok(Object.values(third.statuses).every((s) => s === 'cached'), JSON.stringify(third.statuses));
  assert.equal(third.compare.sha256, result.compare.sha256);
  assert.deepEqual((await scheduledActivities(again.handle)).filter((n) => n !== 'lookupStage'), ['validateConfig', 'reportStage']);
});

test('cancel stops the training stage at a step boundary with a checkpoint there, and resume continues from it', async () => {
  const storeDir = tmpDir('cancel-store');
  const store = openStore(storeDir);
  // checkpoint_every=0: the corrupt stage checkpoints only at its end, so a mid-run manifest can only be the cancel point
  const loaded = tinyConfig(storeDir, ['corrupt.epochs=12', 'checkpoint_every=0']);
  const first = await startLineage(shared.ctx().client, loaded, { queues: prefix, codeVersion: 'test-cancel', options: { progressIntervalMs: 200 } });
  const corrupt = await waitFor('the corrupt stage to report progress', async () => {
    const p = await first.handle.query(progressQuery);
    return p.stages.find((s) => s.stage === 'corrupt' && s.status === 'running' && (s.step ?? 0) > 0 && s.key);
  });
  await first.handle.cancel();
  await assert.rejects(first.handle.result(), (err: Error) => /cancel/i.test(`${err.message} ${(err.cause as Error | undefined)?.message}`));
  assert.equal((await first.handle.describe()).status.name, 'CANCELLED');
  const progress = await first.handle.query(progressQuery);
  assert.equal(progress.status, 'cancelled');
  assert.equal(progress.stages.find((s) => s.stage === 'corrupt')?.status, 'cancelled');

  const manifests = await store.list(`${checkpointSeries(corrupt.key!)}/step-`);
  assert.equal(manifests.length, 1, `one checkpoint, at the cancel point: ${manifests.join(', ')}`);
  const cancelStep = Number(/step-(\d+)\.json$/.exec(manifests[0])![1]);
  assert.ok(cancelStep >= corrupt.step! && cancelStep < 48, `cancelled at step ${cancelStep} of 48 (progress had reported ${corrupt.step})`);
  const stopped = progress.stages.find((s) => s.stage === 'corrupt')!;
  assert.equal(stopped.step, cancelStep, 'the cancelled stage shows the step its cancel-point checkpoint is at (not the last periodic report)');
  assert.equal(stopped.checkpoint, manifests[0], 'and that checkpoint');

  const resumed = await resumeLineage(shared.ctx().client, first.workflowId);
  assert.equal(resumed.lastCheckpoint?.step, cancelStep);
  const result = await resumed.handle.result();
  assert.equal(result.stages.corrupt.metrics.resumedFromStep, cancelStep);
  assert.equal(result.statuses.finetune, 'cached');
});
