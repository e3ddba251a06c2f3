// A full lineage (configs/tiny-test.yaml) on the harness's Temporal dev server, with a local-folder store and with
// the S3 store (SeaweedFS): it completes, every stage is computed once, the progress query and current details
// reflect the end state, and the store holds every stage's artifacts.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { openStore } from '../../store/open';
import { currentDetails, lineageStatus, startLineage } from '../../temporal/lineage-client';
import { experimentKey, stageKey, progressKey } from '../../temporal/search-attributes';
import { progressQuery } from '../../contract/lineage';
import { connectTemporal, s3Settings, testWorkers, tinyConfig, tmpDir, uniquePrefix, type TemporalContext } from '../support/helpers';
import { assertStoreHoldsLineage } from '../support/store-checks';

let ctx: TemporalContext;
before(async () => {
  ctx = await connectTemporal();
});
after(async () => {
  await ctx?.close();
});

async function runLineage(label: string, store: string) {
  const prefix = uniquePrefix(label);
  const workers = await testWorkers(ctx, prefix);
  try {
    const loaded = tinyConfig(store);
    const started = await startLineage(ctx.client, loaded, { queues: prefix, codeVersion: `test-${prefix}`, options: { progressIntervalMs: 500 } });
    const result = await started.handle.result();
    const progress = await started.handle.query(progressQuery);
    const details = await currentDetails(ctx.client, started.workflowId);
    const description = await started.handle.describe();
    const status = await lineageStatus(ctx.client, started.workflowId);
    return { loaded, started, result, progress, details, description, status };
  } finally {
    await workers.shutdown();
  }
}

test('a tiny lineage completes on a local store, which then holds every stage', async () => {
  const storeDir = tmpDir('lineage-store');
  const run = await runLineage('local', storeDir);
  const { result, progress, loaded } = run;

  assert.equal(result.name, 'tiny-test');
  assert.equal(result.configHash, loaded.hash);
  assert.ok(Object.values(result.statuses).every((s) => s === 'done'), `every stage computed: ${JSON.stringify(result.statuses)}`);
  assert.deepEqual(
    Object.keys(result.stages),
    ['base', 'trace-base', 'finetune', 'trace-finetune-e1', 'trace-finetune-e2', 'corrupt', 'trace-corrupt', 'retrain', 'trace-retrain', 'compare'],
  );
  assert.equal(result.stages.finetune.metrics.steps, 8, '2 epochs of 32 prompts at batch size 8');
  assert.equal(result.stages.base.metrics.resumedFromStep, 0);

  // the progress query, the UI's current details and the search attributes describe the finished lineage
  assert.equal(progress.status, 'completed');
  assert.equal(progress.fraction, 1);
  assert.ok(progress.stages.every((s) => s.status === 'done'), JSON.stringify(progress.stages));
  assert.match(run.details ?? '', /\*\*completed\*\*/);
  assert.match(run.details ?? '', /✓ trace-retrain/);
  const sa = run.description.typedSearchAttributes;
  assert.equal(sa.get(experimentKey), 'tiny-test');
  assert.equal(sa.get(stageKey), 'completed');
  assert.equal(sa.get(progressKey), 1);
  assert.equal(run.status.status, 'COMPLETED');
  assert.equal(run.status.progress?.status, 'completed');

  await assertStoreHoldsLineage(openStore(storeDir), result, loaded.config.retention);
  // the report stage rendered the HTML report into the store
  assert.equal(progress.stages.find((s) => s.stage === 'report')?.status, 'done');
  assert.ok(result.report, 'the result links to the report');
  const html = (await openStore(storeDir).getBlob(result.report)).toString('utf8');
  assert.match(html, /<html/i);
  assert.match(html, /tiny-test/);
});

test('the same lineage against the S3 store (SeaweedFS)', async () => {
  const { endpoint, bucket } = s3Settings();
  const storeUrl = `s3://${bucket}/${uniquePrefix('lineage')}`;
  const run = await runLineage('s3', storeUrl);
  const { result, loaded } = run;
  assert.equal(result.storeUrl, storeUrl);
  assert.ok(Object.values(result.statuses).every((s) => s === 'done'));
  assert.ok(result.compare.uri.startsWith("blobs/"), `refs are relative to the store root: ${result.compare.uri}`);
  await assertStoreHoldsLineage(openStore(storeUrl, { s3: { endpoint } }), result, loaded.config.retention);
});
