// Bad configs that reach the workflow (bypassing the client's checks) fail it fast, without retries, with a
// message naming the problem: unknown key, wrong type, missing model file, unusable store.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { startLineage } from '../../temporal/lineage-client';
import { progressQuery } from '../../contract/lineage';
import type { ExperimentConfig } from '../../config/schema';
import { tinyConfig, tmpDir, useTestWorkers } from '../support/helpers';

const shared = useTestWorkers('validation');
const prefix = shared.prefix;

/** Starts a lineage with a tampered config and returns its workflow failure. */
async function failure(tamper: (config: ExperimentConfig) => unknown): Promise<{ failure: ApplicationFailure; stages: string }> {
  const loaded = tinyConfig(tmpDir('validation-store'));
  const config = tamper(structuredClone(loaded.config)) as ExperimentConfig;
  const started = await startLineage(shared.ctx().client, { ...loaded, config }, { queues: prefix, codeVersion: 'test-validation' });
  const err = await started.handle.result().then(
    () => assert.fail('expected the lineage to fail'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof WorkflowFailedError, `expected WorkflowFailedError, got ${String(err)}`);
  assert.ok(err.cause instanceof ApplicationFailure, `expected an ApplicationFailure cause, got ${String(err.cause)}`);
  const progress = await started.handle.query(progressQuery);
  const history = await started.handle.fetchHistory();
  const attempts = (history.events ?? []).filter((e) => e.activityTaskStartedEventAttributes).map((e) => e.activityTaskStartedEventAttributes!.attempt);
  assert.deepEqual(attempts, [1], 'the validation activity ran once: the failure is not retried');
  assert.equal(progress.status, 'failed');
  return { failure: err.cause, stages: progress.stages.map((s) => `${s.stage}:${s.status}`).join(' ') };
}

test('an unknown key fails the workflow as InvalidConfig naming the key', async () => {
  const { failure: f, stages } = await failure((c) => ({ ...c, finetune: { ...c.finetune, warmup_steps: 3 } }));
  assert.equal(f.type, 'InvalidConfig');
  assert.equal(f.nonRetryable, true);
  assert.match(f.message, /^stage validate failed: config \(workflow input\): finetune\.warmup_steps: unknown key "warmup_steps"/);
  assert.match(stages, /validate:failed base:pending/);
});

test('a wrong type fails the workflow naming the field and the expected type', async () => {
  const { failure: f } = await failure((c) => ({ ...c, trace: { ...c.trace, n: 'eight' } }));
  assert.equal(f.type, 'InvalidConfig');
  assert.match(f.message, /trace\.n: expected number, got string "eight"/);
});

test('a missing model file fails the workflow naming model.path and the file', async () => {
  const dir = tmpDir('hf-without-weights');
  fs.writeFileSync(path.join(dir, 'config.json'), '{}');
  const { failure: f } = await failure((c) => ({ ...c, model: { source: 'hf', path: dir } }));
  assert.equal(f.type, 'InvalidConfig');
  assert.match(f.message, new RegExp(`model\\.path: ${dir}/model\\.safetensors not found`));
});

test('an unusable store fails the workflow naming the store', async () => {
  const dir = tmpDir('validation-file');
  const file = path.join(dir, 'plain-file');
  fs.writeFileSync(file, 'x');
  const { failure: f } = await failure((c) => ({ ...c, store: path.join(file, 'store') }));
  assert.equal(f.type, 'InvalidConfig');
  assert.match(f.message, new RegExp(`store: ${file}/store is not usable`));
});

test('n_ctx smaller than the longest prompt fails at validation, before any stage, naming model.arch.n_ctx', async () => {
  const t0 = Date.now();
  const { failure: f, stages } = await failure((c) => ({ ...c, model: { ...c.model, arch: { ...(c.model as { arch: object }).arch, n_ctx: 4 } } }));
  assert.equal(f.type, 'InvalidConfig');
  assert.match(f.message, /model\.arch\.n_ctx: n_ctx 4 is smaller than the longest prompt the lineage feeds \(\d+ tokens\)/);
  assert.match(stages, /validate:failed base:pending/);
  assert.ok(Date.now() - t0 < 30_000, `failed within seconds (took ${Date.now() - t0} ms)`);
});

test('a model too large for this machine fails at validation naming the field and the memory', async () => {
  const { failure: f } = await failure((c) => ({ ...c, model: { ...c.model, arch: { ...(c.model as { arch: object }).arch, d_model: 1_000_000_000, n_head: 2 } } }));
  assert.equal(f.type, 'InvalidConfig');
  assert.match(f.message, /model\.arch: stage base would need about [\d.]+ GB .* more than this machine's [\d.]+ GB of memory/);
});

test('an hf folder with an invalid config.json fails at validation naming model.path and the file', async () => {
  const dir = tmpDir('hf-bad-config');
  fs.writeFileSync(path.join(dir, 'config.json'), '{"n_layer": 2, "n_embd": ');
  fs.writeFileSync(path.join(dir, 'model.safetensors'), Buffer.alloc(16));
  const { failure: f } = await failure((c) => ({ ...c, model: { source: 'hf', path: dir } }));
  assert.equal(f.type, 'InvalidConfig');
  assert.match(f.message, new RegExp(`model\\.path: ${dir}/config\\.json is not valid JSON`));
});
