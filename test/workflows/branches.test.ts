// A lineage with several corruption branches (two transforms, two rates of one) on the harness's Temporal dev
// server: every branch is corrupted, traced, retrained, traced and compared; progress groups the branches; a rerun
// reuses every stage.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { openStore } from '../../store/open';
import { currentDetails, startLineage } from '../../temporal/lineage-client';
import { progressQuery } from '../../contract/lineage';
import type { LineageComparison } from '../../tracing/results';
import { workRoot } from '../../activities/train';
import { tinyConfig, tmpDir, useTestWorkers } from '../support/helpers';

const t = useTestWorkers('branches');

const stageTrain = { batch_size: 8, log_every: 2 };
export const THREE_VARIANTS = JSON.stringify([
  { transform: 'subject', epochs: 1, train: stageTrain },
  { transform: 'name-moving', epochs: 1, train: stageTrain },
  { transform: 'name-moving', rate: 0.5, epochs: 1, train: stageTrain, retrain: { epochs: 2, train: stageTrain } },
]);

test('three corruption branches run, are traced and compared side by side; a rerun reuses them all', async () => {
  const store = tmpDir('branches-store');
  const loaded = tinyConfig(store, [`corrupt=${THREE_VARIANTS}`]);
  const run = async () => {
    const started = await startLineage(t.ctx().client, loaded, { queues: t.prefix, codeVersion: `test-${t.prefix}`, options: { progressIntervalMs: 500 } });
    return { started, result: await started.handle.result() };
  };
  const { started, result } = await run();
  const names = ['subject', 'name-moving', 'name-moving-r0.5'];
  const expected = ['base', 'trace-base', 'finetune', 'trace-finetune-e1', 'trace-finetune-e2', ...names.flatMap((n) => [`corrupt-${n}`, `trace-corrupt-${n}`, `retrain-${n}`, `trace-retrain-${n}`]), 'compare'];
  assert.deepEqual(Object.keys(result.stages).sort(), [...expected].sort());
  assert.ok(Object.values(result.statuses).every((s) => s === 'done'), JSON.stringify(result.statuses));
  // the per-variant retrain settings apply to that branch only
  assert.equal(result.stages['retrain-name-moving-r0.5'].metrics.steps, 2 * result.stages['retrain-subject'].metrics.steps);
  // the 0.5-rate branch trained on other labels than the 1.0 one: different weights
  assert.notEqual(result.stages['corrupt-name-moving'].weights!.checkpoint, result.stages['corrupt-name-moving-r0.5'].weights!.checkpoint);

  const cmp = JSON.parse((await openStore(store).getBlob(result.compare)).toString('utf8')) as LineageComparison;
  assert.deepEqual(cmp.branches?.map((b) => b.name), names);
  for (const b of cmp.branches!) {
    assert.equal(b.clean, 'finetune-e2');
    assert.equal(b.corrupted, `corrupt-${b.name}`);
    assert.equal(b.retrained, `retrain-${b.name}`);
    assert.ok(b.intervals, `${b.name} has bootstrap intervals`);
    for (const iv of [b.intervals.ldClean, b.intervals.ldCorrupted, b.intervals.ldRetrained]) assert.ok(iv.lo <= iv.value && iv.value <= iv.hi, JSON.stringify(iv));
    assert.ok(Math.abs(b.intervals.ldCorrupted.value - b.restoration.behavioural.ldCorrupted) < 1e-9, 'the interval is around the reported mean');
    assert.ok(b.intervals.behavioural.lo <= b.intervals.behavioural.hi);
    // the localisation share and the mechanistic restoration too (per-prompt activation patching in the traces)
    const share = b.intervals.topShare?.['2'];
    assert.ok(share && share.value === b.localisation.topShare['2'] && share.lo <= share.hi, `${b.name} top-2 share: ${JSON.stringify(share)}`);
    assert.equal(b.intervals.mechanistic?.value, b.restoration.mechanistic[b.method].pearson);
    assert.ok(Number.isFinite(b.localisation.topShare['2']));
    assert.equal(Object.values(b.counts).reduce((a, x) => a + x, 0), 2, 'every head of the 1×2 model is labelled');
  }
  assert.equal(cmp.branches![0].transform, 'subject');
  assert.equal(cmp.branches![2].rate, 0.5);
  assert.equal(result.headline['branch.name-moving-r0.5.ld_corrupted'], cmp.branches![2].restoration.behavioural.ldCorrupted);
  const shareIv = cmp.branches![2].intervals!.topShare!['2'];
  assert.deepEqual([result.headline['branch.name-moving-r0.5.localisation.top2_share.lo'], result.headline['branch.name-moving-r0.5.localisation.top2_share.hi']], [shareIv.lo, shareIv.hi], 'the headline carries the intervals');

  // progress: the branch stages carry their branch; the UI's details group them
  const progress = await started.handle.query(progressQuery);
  assert.equal(progress.stages.find((s) => s.stage === 'retrain-subject')?.branch, 'subject');
  const details = (await currentDetails(t.ctx().client, started.workflowId)) ?? '';
  for (const n of names) assert.match(details, new RegExp(`- branch \\*\\*${n.replace('.', '\\.')}\\*\\* \\(4/4\\)`));
  assert.match(details, /\n {2}- ✓ trace-retrain-name-moving-r0\.5/);

  const again = await run();
  assert.ok(Object.values(again.result.statuses).every((s) => s === 'cached'), JSON.stringify(again.result.statuses));
});

test('a failing branch fails the lineage at once, naming its stage, which the progress shows failed', async () => {
  const store = tmpDir('branches-fail-store');
  const two = JSON.stringify([
    { transform: 'subject', epochs: 1, train: stageTrain },
    { transform: 'name-moving', epochs: 1, train: stageTrain },
  ]);
  const loaded = tinyConfig(store, [`corrupt=${two}`]);
  const started = await startLineage(t.ctx().client, loaded, { queues: t.prefix, codeVersion: `test-fail-${t.prefix}`, options: { maxAttempts: 1 } });
  // A file where the name-moving branch's attempt folder goes: its corrupt stage cannot start.
  const stageDir = path.join(workRoot(), started.workflowId);
  fs.mkdirSync(stageDir, { recursive: true });
  fs.writeFileSync(path.join(stageDir, 'corrupt-name-moving'), 'not a folder');
  try {
    await assert.rejects(started.handle.result(), (err: Error & { cause?: Error }) => {
      assert.match(err.cause?.message ?? err.message, /stage corrupt-name-moving failed/);
      return true;
    });
    const progress = await started.handle.query(progressQuery);
    assert.equal(progress.status, 'failed');
    assert.equal(progress.stages.find((s) => s.stage === 'corrupt-name-moving')?.status, 'failed');
    assert.equal(progress.stages.find((s) => s.stage === 'retrain-name-moving')?.status, 'pending');
  } finally {
    fs.rmSync(stageDir, { recursive: true, force: true });
  }
});
