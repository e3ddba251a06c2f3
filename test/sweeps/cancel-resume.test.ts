// Cancelling a sweep cancels its running children cleanly (they end CANCELLED, not terminated), and resuming it
// continues only what is missing: completed stages of the interrupted children are reused, nothing is computed twice.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { expandSweep } from '../../config/sweep';
import { progressQuery } from '../../contract/lineage';
import { sweepChildId } from '../../contract/sweep';
import { resumeSweep, startSweep, sweepStatus } from '../../temporal/sweep-client';
import { TINY_CONFIG, tmpDir, useTestWorkers, waitFor } from '../support/helpers';

const t = useTestWorkers('sweep-cancel');

test('a cancelled sweep cancels its children; resume reuses what they completed', async () => {
  const client = t.ctx().client;
  const store = tmpDir('sweep-cancel-store');
  const sweep = expandSweep(TINY_CONFIG, { set: [`store=${store}`], grid: ['seed=0,1'], concurrency: 2 });
  const started = await startSweep(client, sweep, { queues: t.prefix, codeVersion: `test-${t.prefix}`, options: { progressIntervalMs: 300 } });
  const child0 = client.workflow.getHandle(sweepChildId(started.workflowId, 0));
  // cancel once the first child has finished its base stage
  await waitFor('point 0 past base', async () => {
    const p = await child0.query(progressQuery).catch(() => undefined);
    return p?.stages.find((s) => s.stage === 'base')?.status === 'done' ? true : undefined;
  }, 300_000, 300);
  await started.handle.cancel();
  await assert.rejects(started.handle.result());
  const status = await sweepStatus(client, started.workflowId);
  assert.equal(status.status, 'CANCELLED');
  for (const c of status.children.filter((x) => x.child)) assert.equal(c.child!.status, 'CANCELLED', `${c.label} cancelled, not terminated`);

  const resumed = await resumeSweep(client, started.workflowId);
  assert.ok(resumed.reusing.includes(0), 'point 0 continues from its completed stages');
  const result = await resumed.handle.result();
  assert.deepEqual(result.points.map((p) => p.status), ['completed', 'completed']);
  const r0 = result.points[0].result!;
  assert.equal(r0.statuses.base, 'cached', 'base computed before the cancellation is reused');
  assert.ok(resumed.workflowId !== started.workflowId);
});
