// The stage cache keys an imported model on every file that changes its computation: two HF folders with the same
// weights but another n_head in config.json share no stage (issue 10, item 1: the second used to be all `cached`
// with the first one's numbers).
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { runLineageLocally } from '../../lineage/local';
import { initBackend } from '../../model/engine';
import type { ModelConfig } from '../../model/config';
import { GPT2 } from '../../model/gpt2';
import { saveHfFolder } from '../../model/hf';
import { stageIdentity } from '../../lineage/stages';
import { tinyConfig, tmpDir } from '../support/helpers';

const CONFIG: ModelConfig = { n_layer: 1, d_model: 16, n_head: 4, d_head: 4, d_mlp: 32, n_ctx: 32, vocab: 50257, tied: true, ln_eps: 1e-5 };

test('two hf folders differing only in config.json (n_head 4 vs 2) share no cached stage', async () => {
  await initBackend('tensorflow');
  const root = tmpDir('model-identity');
  const four = path.join(root, 'heads-4');
  const two = path.join(root, 'heads-2');
  const m = GPT2.init(CONFIG, 5);
  await saveHfFolder(m, four);
  m.dispose();
  fs.mkdirSync(two);
  fs.copyFileSync(path.join(four, 'model.safetensors'), path.join(two, 'model.safetensors'));
  const hf = JSON.parse(fs.readFileSync(path.join(four, 'config.json'), 'utf8')) as Record<string, unknown>;
  assert.equal(hf.n_head, 4);
  fs.writeFileSync(path.join(two, 'config.json'), JSON.stringify({ ...hf, n_head: 2 }, null, 2));

  const store = tmpDir('model-identity-store');
  const run = (dir: string) =>
    runLineageLocally(tinyConfig(store, [`model=${JSON.stringify({ source: 'hf', path: dir })}`, 'finetune.epochs=[1]', 'trace.cmap=false', 'backend=tensorflow']), {
      codeVersion: 'model-identity-test',
    });
  const first = await run(four);
  assert.ok(Object.values(first.statuses).every((s) => s === 'done'), JSON.stringify(first.statuses));
  const second = await run(two);
  assert.ok(Object.values(second.statuses).every((s) => s === 'done'), `nothing reused from the n_head=4 folder: ${JSON.stringify(second.statuses)}`);
  assert.notEqual(second.stages.base.key, first.stages.base.key);
  assert.notDeepEqual(second.stages['trace-base'].metrics, first.stages['trace-base'].metrics, 'its own numbers');

  // the same folder again is a cache hit throughout
  const again = await run(two);
  assert.ok(Object.values(again.statuses).every((s) => s === 'cached'), JSON.stringify(again.statuses));
  assert.deepEqual(again.stages['trace-base'].metrics, second.stages['trace-base'].metrics);
});

test('a stage identity is derived from its activity input: any field but name, key, store and cadence changes it', () => {
  const ref = { uri: 'file:///a/blobs/x', sha256: 'c'.repeat(64), bytes: 1, kind: 'checkpoint' };
  const args = { stage: 'corrupt', store: 'file:///a', from: { checkpoint: ref }, data: { n: 32 }, checkpointEvery: 4, retention: 2, progressIntervalMs: 5 };
  const base = stageIdentity('corrupt', args, ['w']);
  assert.deepEqual(base, { parents: ['w'], config: { from: { checkpoint: '<parent>' }, data: { n: 32 } } });
  // elsewhere in another store, under another name, with another cadence: the same identity
  assert.deepEqual(stageIdentity('corrupt-subject', { ...args, stage: 'corrupt-subject', store: 'file:///b', from: { checkpoint: { ...ref, uri: 'file:///b/x' } }, checkpointEvery: 8 }, ['w']), base);
  // a field nobody listed (say a new data option) changes it
  assert.notDeepEqual(stageIdentity('corrupt', { ...args, data: { n: 32, poison: { transform: 'subject', rate: 1 } } }, ['w']), base);
  assert.notDeepEqual(stageIdentity('corrupt', { ...args, newOption: true }, ['w']), base);
  // every artifact reference needs its parent's content identity
  assert.throws(() => stageIdentity('corrupt', args, []), /stage corrupt: 1 artifact references in its input but 0 parent identities/);
});
