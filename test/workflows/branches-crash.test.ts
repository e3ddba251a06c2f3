// Two corruption branches on two gpu worker processes (separate `node dist/workers/main.js`): both corrupt stages
// run at once, one per worker; the worker running the name-moving branch is SIGKILLed after a checkpoint. A new
// worker resumes that branch from its checkpoint, the other branch is not disturbed, and the lineage ends with the
// same weights as an uninterrupted run of the same config.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { WorkerProcesses, exited } from './worker-processes';
import { openStore } from '../../store/open';
import type { TrainStageInput } from '../../contract/activities';
import { startLineage } from '../../temporal/lineage-client';
import { progressQuery } from '../../contract/lineage';
import { connectTemporal, testWorkers, tinyConfig, tmpDir, uniquePrefix, waitFor, type TemporalContext } from '../support/helpers';
import type { RunningWorkers } from '../../workers/run-worker';

let ctx: TemporalContext;
let local: RunningWorkers;
const prefix = uniquePrefix('branch-crash');
const processes = new WorkerProcesses(prefix);

before(async () => {
  ctx = await connectTemporal();
  local = await testWorkers(ctx, prefix, { queues: ['orchestrator', 'cpu'] });
});
after(async () => {
  processes.killAll();
  await local?.shutdown();
  await ctx?.close();
});

const train = { batch_size: 8, log_every: 2 };
const TWO_BRANCHES = JSON.stringify([
  { transform: 'subject', epochs: 12, train },
  { transform: 'name-moving', epochs: 12, train },
]);

test('SIGKILL of the worker running one branch: that branch resumes from its checkpoint, the lineage ends as an uninterrupted one', async () => {
  const storeDir = tmpDir('branch-crash-store');
  const store = openStore(storeDir);
  const loaded = tinyConfig(storeDir, [`corrupt=${TWO_BRANCHES}`, 'checkpoint_every=4']);
  const workers = [processes.gpu(), processes.gpu()];
  const started = await startLineage(ctx.client, loaded, {
    queues: prefix,
    codeVersion: 'test-branch-crash',
    options: { heartbeatTimeout: '4s', retryInitialInterval: '1s', progressIntervalMs: 300 },
  });

  // Both branches' corrupt stages run at the same time, one on each worker.
  await waitFor('both corrupt stages running', async () => {
    const p = await started.handle.query(progressQuery);
    return p.stages.filter((s) => s.stage.startsWith('corrupt-') && s.status === 'running').length === 2 || undefined;
  }, 300_000, 50);
  // The worker running corrupt-name-moving, once that stage has a checkpoint: found by the pending activity's
  // worker identity (pid@host) and the stage named in its scheduled input.
  const victim = await waitFor('a checkpoint of corrupt-name-moving', async () => {
    const p = await started.handle.query(progressQuery);
    const s = p.stages.find((x) => x.stage === 'corrupt-name-moving');
    if (!(s?.status === 'running' && s.checkpoint)) return undefined;
    const history = await started.handle.fetchHistory();
    const converter = ctx.client.options.loadedDataConverter.payloadConverter;
    const ids = new Map<string, string>();
    for (const e of history.events ?? []) {
      const a = e.activityTaskScheduledEventAttributes;
      if (a?.activityType?.name === 'trainStage') ids.set(a.activityId!, (converter.fromPayload(a.input!.payloads![0]) as TrainStageInput).stage);
    }
    const pending = (await started.handle.describe()).raw.pendingActivities ?? [];
    const mine = pending.find((a) => ids.get(a.activityId!) === 'corrupt-name-moving' && a.lastWorkerIdentity);
    const pid = mine ? Number(mine.lastWorkerIdentity!.split('@')[0]) : NaN;
    return workers.find((w) => w.child.pid === pid);
  }, 300_000, 50);
  victim.child.kill('SIGKILL');
  await exited(victim.child);
  assert.equal(victim.child.signalCode, 'SIGKILL');
  const survivor = workers.find((w) => w !== victim)!;
  const replacement = processes.gpu();

  const result = await started.handle.result().catch((err: Error) => {
    throw new Error(`${err.message}\n--- worker output ---\n${survivor.output()}\n${replacement.output()}`);
  });
  assert.ok(Object.values(result.statuses).every((s) => s === 'done'), JSON.stringify(result.statuses));
  assert.ok(result.stages['corrupt-name-moving'].metrics.resumedFromStep > 0, `corrupt-name-moving resumed from step ${result.stages['corrupt-name-moving'].metrics.resumedFromStep}`);
  assert.ok(survivor.child.exitCode === null && survivor.child.signalCode === null, 'the other worker kept running');

  // The same config, uninterrupted, in another store (in-process workers): identical weights in every train stage.
  const cleanStore = tmpDir('branch-crash-uninterrupted');
  const prefix2 = uniquePrefix('branch-clean');
  const inProcess = await testWorkers(ctx, prefix2);
  try {
    const again = await startLineage(ctx.client, tinyConfig(cleanStore, [`corrupt=${TWO_BRANCHES}`, 'checkpoint_every=4']), { queues: prefix2, codeVersion: 'test-branch-crash' });
    const clean = await again.handle.result();
    for (const name of ['finetune', 'corrupt-subject', 'corrupt-name-moving', 'retrain-subject', 'retrain-name-moving']) {
      assert.equal(result.stages[name].weights!.checkpoint, clean.stages[name].weights!.checkpoint, `${name}: same weights as the uninterrupted run`);
    }
    assert.deepEqual(result.headline, clean.headline);
  } finally {
    await inProcess.shutdown();
  }
  assert.ok((await store.list('stages/')).some((k) => k.startsWith('stages/compare-')));
  for (const w of [survivor, replacement]) {
    w.child.kill('SIGTERM');
    await exited(w.child);
  }
});
