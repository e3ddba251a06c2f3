// `plasticity train` config assembly: defaults, config files, --set paths (no training here).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { buildJobInput } from '../../cli/commands/train';
import { applySet } from '../../config/load';
import { parseWith } from '../../train/config';
import { TrainJobInputSchema } from '../../train/job';
import { pretrainJobInput } from '../../train/pretrain';

test('without --config the job is the default base-model pretrain (train/defaults DEFAULT_BASE)', () => {
  const out = path.join(os.tmpdir(), 'plasticity-default-run');
  const job = parseWith(TrainJobInputSchema, buildJobInput({ set: [], out }), 'job');
  const expected = parseWith(TrainJobInputSchema, { ...pretrainJobInput(path.join(out, 'checkpoints'), { finalDir: out }) }, 'job');
  assert.deepEqual(job, expected);
  assert.equal(job.outDir, path.join(out, 'checkpoints'));
  assert.equal(job.finalDir, out);
});

test('--set: dotted paths, JSON values when they parse, strings otherwise', () => {
  const cfg: Record<string, unknown> = { train: { steps: 5 } };
  applySet(cfg, 'train.steps=20');
  applySet(cfg, 'train.betas=[0.8,0.9]');
  applySet(cfg, 'train.loss=sentence');
  applySet(cfg, 'base.arch.n_layer=3');
  applySet(cfg, 'base.note=a=b');
  assert.deepEqual(cfg, { train: { steps: 20, betas: [0.8, 0.9], loss: 'sentence' }, base: { arch: { n_layer: 3 }, note: 'a=b' } });
  assert.throws(() => applySet(cfg, 'train.steps.x=1'), /--set train\.steps\.x=1: train\.steps is not an object/);
  assert.throws(() => applySet(cfg, '__proto__.polluted=1'), /bad key path/);
});

test('a config file replaces the default per top-level key; --set applies on top', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'plasticity-cfg-'));
  process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'run.json');
  fs.writeFileSync(file, JSON.stringify({ data: { kind: 'ioi', n: 40 }, train: { steps: 3 } }));
  const job = buildJobInput({ config: file, set: ['train.lr=0.01'], out: dir });
  assert.deepEqual(job.data, { kind: 'ioi', n: 40, seed: 0, eval_n: 200, holdout_names: 0 });
  assert.equal((job.train as { steps: number }).steps, 3);
  assert.equal((job.train as { lr: number }).lr, 0.01);
  assert.equal((job.train as { loss: string }).loss, 'answer', 'train keys the file omits take the schema defaults, not the pretrain ones');
  assert.equal(typeof job.baseDir, 'object', 'base not given: the default architecture from scratch');
});
