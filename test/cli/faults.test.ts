// The CLI under faults and bad input (issue 10, drills): no hangs, the documented exit codes, messages that name
// the field or flag, no stray SDK warnings.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { startLineage } from '../../temporal/lineage-client';
import { connectClient, connectionSettings } from '../../temporal/connection';
import { startTestTemporal } from '../services/temporal';
import { closedPort, collect, runCli, startCli, testTemporalAddress } from './cli-process';
import { connectTemporal, s3Settings, tinyConfig, tmpDir, uniquePrefix } from '../support/helpers';

const TINY = path.join(__dirname, '..', '..', '..', 'configs', 'tiny-test.yaml');
const HF_FIXTURE = path.join(__dirname, '..', '..', '..', 'test', 'fixtures', 'tiny-gpt2');
const noServer = async () => ({ TEMPORAL_ADDRESS: `127.0.0.1:${await closedPort()}` });

test('status "" is a usage error (exit 2), not a server error', async () => {
  const r = await runCli(['status', ''], { TEMPORAL_ADDRESS: testTemporalAddress() }, { timeoutMs: 30_000 });
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /expected a workflow id/);
});

test('a store under /proc fails within seconds naming the store (it used to hang)', async () => {
  const t0 = Date.now();
  const r = await runCli(['run', TINY, '--set', 'store=/proc/plasticity-store'], await noServer(), { timeoutMs: 30_000 });
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /store: \/proc\/plasticity-store is not usable/);
  assert.ok(Date.now() - t0 < 30_000);
});

test('an input too large to hold in memory is refused before anything runs, naming the field', async () => {
  const r = await runCli(['run', TINY, '--set', 'data.n_train=50000000', '--set', `store=${tmpDir('faults-ntrain')}`], await noServer(), { timeoutMs: 30_000 });
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /data\.n_train: expected at most 500,000 training prompts/);
});

test('cancel --wait with no worker gives up after --timeout and says why (exit 1)', async () => {
  const ctx = await connectTemporal();
  const prefix = uniquePrefix('faults-cancel'); // no worker polls these queues
  const started = await startLineage(ctx.client, tinyConfig(tmpDir('faults-cancel')), { queues: prefix, codeVersion: 'test-faults' });
  try {
    const t0 = Date.now();
    const r = await runCli(['cancel', started.workflowId, '--wait', '--timeout', '3'], { TEMPORAL_ADDRESS: testTemporalAddress() }, { timeoutMs: 60_000 });
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /has not stopped within 3s; the cancellation stays requested/);
    assert.ok(Date.now() - t0 < 30_000, `bounded (${Date.now() - t0} ms)`);
  } finally {
    await started.handle.terminate('test over').catch(() => undefined);
    await ctx.close();
  }
});

test('watch exits 5 when its server goes away', async () => {
  const temporal = await startTestTemporal();
  let stopped = false;
  try {
    const client = await connectClient(connectionSettings({ TEMPORAL_ADDRESS: temporal.address }));
    const started = await startLineage(client, tinyConfig(tmpDir('faults-watch')), { queues: uniquePrefix('faults-watch'), codeVersion: 'test-faults' });
    await client.connection.close();
    const child = startCli(['watch', started.workflowId], { TEMPORAL_ADDRESS: temporal.address });
    const result = collect(child, 90_000, ['watch']);
    await new Promise((r) => setTimeout(r, 4000)); // watching (no worker: "waiting")
    await temporal.stop();
    stopped = true;
    const r = await result;
    assert.equal(r.code, 5, `exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
    assert.match(r.stderr, /unreachable/i);
  } finally {
    if (!stopped) await temporal.stop();
  }
});

test('eval --dump-logits to an unwritable path fails before computing, naming the flag', async () => {
  const r = await runCli(['eval', '--model', HF_FIXTURE, '--dataset', 'ioi', '--n', '4', '--backend', 'cpu', '--json', '--dump-logits', '/nonexistent-dir/x.json'], {}, { timeoutMs: 60_000 });
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /--dump-logits \/nonexistent-dir\/x\.json: folder \/nonexistent-dir does not exist/);
});

test('a prompts file whose io name is not in the clean prompt is refused naming the field', async () => {
  const file = path.join(tmpDir('faults-prompts'), 'p.jsonl');
  fs.writeFileSync(file, JSON.stringify({ clean: 'Then, John and Mary went out. John gave it to', corrupt: 'Then, Adam and Kate went out. Paul gave it to', io: ' Susan', s: ' John' }) + '\n');
  const r = await runCli(['eval', '--model', HF_FIXTURE, '--prompts', file, '--backend', 'cpu', '--json'], {}, { timeoutMs: 60_000 });
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /p\.jsonl:1: field "io" " Susan" does not occur in "clean"/);
});

test('S3 commands print no AWS SDK Node-version warning', async () => {
  const { endpoint, bucket } = s3Settings();
  const r = await runCli(['run', TINY, '--set', `store=s3://${bucket}/faults-${Date.now()}`], { ...(await noServer()), AWS_ENDPOINT_URL_S3: endpoint }, { timeoutMs: 60_000 });
  assert.equal(r.code, 5, `the store check passed and the (absent) server is exit 5: ${r.stderr}`);
  assert.doesNotMatch(r.stderr, /NodeVersionSupportWarning|AWS SDK for JavaScript/);
});
