// Forks through real Temporal: a fork of a finished tiny lineage at `corrupt` with another poisoning rate reuses the
// parent's base, fine-tune and their traces (same stage keys, not recomputed), computes corrupt and later, and its
// result and report link the parent.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError } from '../../config/load';
import { openStore } from '../../store/open';
import { forkLineage } from '../../temporal/fork-client';
import { startLineage } from '../../temporal/lineage-client';
import { tinyConfig, tmpDir, useTestWorkers } from '../support/helpers';

const t = useTestWorkers('fork');

test('a fork reuses its parent stages before --from and diverges there', async () => {
  const store = tmpDir('fork-store');
  const client = t.ctx().client;
  const parent = await startLineage(client, tinyConfig(store), { queues: t.prefix, codeVersion: `test-${t.prefix}` });
  const p = await parent.handle.result();

  await assert.rejects(forkLineage(client, parent.workflowId, { from: 'nonsense', set: [] }), (e: Error) => e instanceof ConfigError && /--from nonsense: not a stage/.test(e.message));
  await assert.rejects(forkLineage(client, parent.workflowId, { from: 'corrupt', set: ['corrupt.rat=0.5'] }), /unknown key "rat"/);

  const fork = await forkLineage(client, parent.workflowId, { from: 'corrupt', set: ['corrupt.rate=0.5'] });
  assert.deepEqual(fork.offered.sort(), ['base', 'finetune', 'trace-base', 'trace-finetune-e1', 'trace-finetune-e2']);
  const f = await fork.handle.result();
  const before = ['base', 'trace-base', 'finetune', 'trace-finetune-e1', 'trace-finetune-e2'];
  for (const s of before) {
    assert.equal(f.statuses[s], 'cached', `${s} reused`);
    assert.equal(f.stages[s].key, p.stages[s].key, `${s}: the parent's stage`);
  }
  for (const s of ['corrupt', 'trace-corrupt', 'retrain', 'trace-retrain', 'compare']) assert.equal(f.statuses[s], 'done', `${s} computed`);
  assert.notEqual(f.stages.corrupt.key, p.stages.corrupt.key);
  assert.deepEqual(f.forkOf, { workflowId: parent.workflowId, stage: 'corrupt', set: ['corrupt.rate=0.5'] });
  const html = (await openStore(store).getBlob(f.report!)).toString('utf8');
  assert.match(html, /forked from/);
  assert.ok(html.includes(parent.workflowId), 'the report links the parent');
});
