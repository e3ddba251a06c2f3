// Deterministic errors are typed where they are thrown (errors/deterministic.ts) and become non-retryable Temporal failures
// by type: an arch that cannot hold the prompts (also from inside a training thread), an invalid hf config.json,
// invalid JSON in a stored result.json, a store folder without write permission. None of these messages matched the
// old message patterns, so each was retried 20 times over ~30 minutes.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { ApplicationFailure } from '@temporalio/common';
import { toFailure } from '../../activities/errors';
import { loadHfFolder } from '../../model/hf';
import { openStore } from '../../store/open';
import { runTrainJob } from '../../train/job';
import { NON_RETRYABLE_ERROR_TYPES } from '../../contract/lineage';
import { tinyJob, tmpDir, TINY_ARCH } from '../train/helpers';

async function failureOf(fn: () => unknown): Promise<ApplicationFailure> {
  const err = await Promise.resolve().then(fn).then(
    () => assert.fail('expected an error'),
    (e: unknown) => e,
  );
  const failure = toFailure(err, 'stage x');
  assert.ok(failure instanceof ApplicationFailure, `expected an ApplicationFailure, got ${String(failure)} from ${String(err)}`);
  return failure;
}

function assertNonRetryable(f: ApplicationFailure, type: string, message: RegExp): void {
  assert.equal(f.nonRetryable, true, `${f.message} must not be retried`);
  assert.equal(f.type, type);
  assert.ok(NON_RETRYABLE_ERROR_TYPES.includes(type), `${type} is listed in the workflow's nonRetryableErrorTypes`);
  assert.match(f.message, message);
}

test('n_ctx smaller than the prompts, thrown inside the training thread, is a non-retryable DataError', async () => {
  const out = tmpDir('det-nctx');
  const f = await failureOf(() => runTrainJob(tinyJob(out, { baseDir: { arch: { ...TINY_ARCH, n_ctx: 4 }, seed: 3, vocab: 'ioi' } })));
  assertNonRetryable(f, 'DataError', /exceeds n_ctx 4|exceed the model's n_ctx 4/);
});

test('an invalid config.json of an hf folder is a non-retryable DataError naming the file', async () => {
  const dir = tmpDir('det-hf');
  fs.writeFileSync(path.join(dir, 'config.json'), '{"n_layer": 1,');
  fs.writeFileSync(path.join(dir, 'model.safetensors'), Buffer.alloc(16));
  const f = await failureOf(() => loadHfFolder(dir));
  assertNonRetryable(f, 'DataError', new RegExp(`${dir}/config\\.json: not valid JSON`));
});

test('invalid JSON in a stored result.json is a non-retryable DataError naming the object', async () => {
  const dir = tmpDir('det-json');
  const store = openStore(dir);
  fs.mkdirSync(path.join(dir, 'stages', 'k1'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'stages', 'k1', 'result.json'), '{"stage": "base", ');
  const f = await failureOf(() => store.getJson('stages/k1/result.json'));
  assertNonRetryable(f, 'DataError', /stages\/k1\/result\.json is not valid JSON/);
});

test('a store folder we may not write (EPERM/EACCES) is a non-retryable StoreAccessDenied', async () => {
  // sysfs refuses new folders to everyone, root included (EPERM; EACCES for other users): a store nobody may write.
  const store = openStore(`/sys/kernel/plasticity-store-${process.pid}`);
  const err = await store.putJson('stages/k2/result.json', {}).then(() => assert.fail('expected the write to fail'), (e: unknown) => e);
  const f = toFailure(err, 'stage x') as ApplicationFailure;
  assert.ok(f instanceof ApplicationFailure, `expected an ApplicationFailure from ${String(err)}`);
  assertNonRetryable(f, 'StoreAccessDenied', /EPERM|EACCES/);
});

test('an I/O error that may pass stays retryable', async () => {
  const f = toFailure(new Error('socket hang up'), 'stage x');
  assert.ok(!(f instanceof ApplicationFailure) || f.nonRetryable === false);
});
