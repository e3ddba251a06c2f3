// Grid expansion (--grid flags and the config's sweep: section through the --set override mechanism) and the
// aggregate's statistics.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { ConfigError } from '../../config/load';
import { expandSweep, parseGridFlags, splitValues } from '../../config/sweep';
import { aggregateSweep, spread, sweepCsv } from '../../report/sweep-aggregate';
import { TINY_CONFIG, tmpDir } from '../support/helpers';

test('grid values split at top-level commas only', () => {
  assert.deepEqual(splitValues('0,1,2'), ['0', '1', '2']);
  assert.deepEqual(splitValues('[1,2],[3]'), ['[1,2]', '[3]']);
  assert.deepEqual(splitValues('"a,b",c'), ['"a,b"', 'c']);
  assert.throws(() => parseGridFlags(['seed']), /--grid seed: expected key=v1,v2/);
  assert.throws(() => parseGridFlags(['seed=1', 'seed=2']), /--grid seed: given twice/);
});

test('expandSweep: cartesian product, first axis slowest, bad keys and values named', () => {
  const store = tmpDir('grid-store');
  const s = expandSweep(TINY_CONFIG, { set: [`store=${store}`], grid: ['seed=0,1', 'finetune.epochs=[1],[1,2]'] });
  assert.deepEqual(s.points.map((p) => p.label), ['seed=0,finetune.epochs=[1]', 'seed=0,finetune.epochs=[1,2]', 'seed=1,finetune.epochs=[1]', 'seed=1,finetune.epochs=[1,2]']);
  assert.deepEqual(s.points.map((p) => [p.config.seed, p.config.finetune.epochs]), [[0, [1]], [0, [1, 2]], [1, [1]], [1, [1, 2]]]);
  assert.equal(new Set(s.points.map((p) => p.configHash)).size, 4);
  assert.equal(s.concurrency, 2);
  assert.throws(() => expandSweep(TINY_CONFIG, { grid: ['corrupt.rat=1'] }), (e: Error) => e instanceof ConfigError && /unknown key "rat" in corrupt/.test(e.message));
  assert.throws(() => expandSweep(TINY_CONFIG, { grid: ['corrupt.rate=high'] }), /corrupt\.rate/);
  assert.throws(() => expandSweep(TINY_CONFIG, {}), /no grid/);
});

test('a sweep: section of the config gives the grid and concurrency; flags override its keys', () => {
  const dir = tmpDir('grid-section');
  const file = path.join(dir, 'sweep.yaml');
  fs.writeFileSync(file, fs.readFileSync(TINY_CONFIG, 'utf8') + '\nsweep:\n  grid: {seed: [0, 1, 2], corrupt.rate: [0.5]}\n  concurrency: 3\n');
  const s = expandSweep(file, { grid: ['corrupt.rate=1,0.25'] });
  assert.equal(s.concurrency, 3);
  assert.deepEqual(s.points.map((p) => p.label), ['seed=0,corrupt.rate=1', 'seed=0,corrupt.rate=0.25', 'seed=1,corrupt.rate=1', 'seed=1,corrupt.rate=0.25', 'seed=2,corrupt.rate=1', 'seed=2,corrupt.rate=0.25']);
  assert.ok(!('sweep' in s.points[0].config), 'the sweep section is not part of a point config');
  fs.writeFileSync(file, fs.readFileSync(TINY_CONFIG, 'utf8') + '\nsweep: {concurency: 2}\n');
  assert.throws(() => expandSweep(file, { grid: ['seed=0'] }), /sweep\.concurency: unknown key; expected grid, concurrency/);
});

test('spread: mean, sample std, range; the aggregate groups seeds by setting', () => {
  assert.deepEqual(spread([1, 3]), { mean: 2, std: Math.SQRT2, min: 1, max: 3, n: 2 });
  assert.deepEqual(spread([null, undefined]), { mean: null, std: null, min: null, max: null, n: 0 });
  const points = [
    { index: 0, label: 'seed=0,corrupt.rate=1', overrides: ['seed=0', 'corrupt.rate=1'], status: 'completed', headline: { x: 1 } },
    { index: 1, label: 'seed=1,corrupt.rate=1', overrides: ['seed=1', 'corrupt.rate=1'], status: 'completed', headline: { x: 5 } },
  ];
  const grid = (v: number) => [v, -v];
  const report = (v: number) => ({ traces: [], lossCurves: [{ stage: 'finetune', points: [{ step: 1, loss: v }, { step: 2, loss: v / 2 }], marks: [] }], headMaps: [{ method: 'm', metric: 'd', stages: [{ label: 'base', values: grid(v) }] }], model: { nLayer: 1, nHead: 2 } });
  const data = aggregateSweep('t', points, new Map([[0, report(1)], [1, report(5)]]) as never);
  assert.equal(data.settings.length, 1);
  const s = data.settings[0];
  assert.equal(s.setting, 'corrupt.rate=1');
  assert.equal(s.headline.x.mean, 3);
  assert.deepEqual(s.lossCurves[0].mean, [3, 1.5]);
  assert.deepEqual(s.headMaps[0].mean, [3, -3]);
  assert.deepEqual(s.headMaps[0].stability, [0.5, 0.5], 'seed 0 (1) is below half the mean (3)');
  assert.match(sweepCsv(data), /corrupt\.rate=1,x,3,2\.8284/);
});
