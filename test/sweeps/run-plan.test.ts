// `run` prints the plan's one-line summary before it starts, the very line `plan` computes for the same config and
// store, and the machine's throughput comes from the cache in the plasticity home after the first measurement: the
// second run leaves the cache file untouched and says so. Also the cache's rules on their own (a fake benchmark).
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, test } from 'node:test';
import { planConfigs, planLine } from '../../cli/plan';
import { expectedBackend, machineThroughput, readThroughputCache, THROUGHPUT_FILE } from '../../cli/throughput';
import { openStore } from '../../store/open';
import { codeVersion } from '../../temporal/lineage-client';
import { runCli, testTemporalAddress, type CliResult } from '../cli/cli-process';
import { TINY_CONFIG, tinyConfig, tmpDir } from '../support/helpers';

const tmp = tmpDir('run-plan');
after(() => fs.rmSync(tmp, { recursive: true, force: true }));
const exitOf = (r: CliResult) => `exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`;
const planLineOf = (r: CliResult) => r.stderr.split('\n').find((l) => l.startsWith('plan: '));

test('run prints the plan line of its config; the second run takes the throughput from the cache', { timeout: 300_000 }, async () => {
  const home = path.join(tmp, 'home');
  const store = path.join(tmp, 'store');
  const cacheFile = path.join(home, THROUGHPUT_FILE);
  const sets = [`store=${store}`, 'backend=wasm'];
  const run = (n: number) => {
    const prefix = `run-plan-${process.pid}-${n}`;
    return runCli(['run', TINY_CONFIG, '--detach', '--queue-prefix', prefix, ...sets.flatMap((x) => ['--set', x])], { TEMPORAL_ADDRESS: testTemporalAddress(), PLASTICITY_HOME: home }, { timeoutMs: 240_000 });
  };
  // wasm: the benchmark's few steps take seconds there, minutes on the pure-JS cpu backend of a loaded machine
  const config = tinyConfig(store, ['backend=wasm']).config;

  const first = await run(1);
  assert.equal(first.code, 0, exitOf(first));
  const entries = readThroughputCache(cacheFile);
  assert.equal(entries.length, 1, `one measured entry in ${cacheFile}`);
  assert.equal(entries[0].backend, await expectedBackend(config.backend));
  assert.ok(entries[0].gflops > 0);
  const expected = planLine(await planConfigs(openStore(store), [config], codeVersion(), { throughputGflops: entries[0].gflops }));
  assert.match(expected, /^plan: 11 stages, 0 cached, 11 to run, ≈ .+, store \+/);
  assert.equal(planLineOf(first), expected, 'run prints the plan of the same config');

  const cacheAfterFirst = fs.readFileSync(cacheFile, 'utf8');
  const second = await run(2);
  assert.equal(second.code, 0, exitOf(second));
  assert.equal(fs.readFileSync(cacheFile, 'utf8'), cacheAfterFirst, 'the second run did not measure again');
  const measuredAt = entries[0].measuredAt.slice(0, 16).replace('T', ' ');
  assert.ok(expected.endsWith(' GFLOP/s measured)'), expected);
  assert.equal(planLineOf(second), expected.replace(/ GFLOP\/s measured\)$/, ` GFLOP/s measured ${measuredAt} UTC, cached)`));
});

test('the throughput cache: measured once per key, reused, measured anew on request or when the file is unreadable', async () => {
  const file = path.join(tmp, 'cache-unit', THROUGHPUT_FILE);
  let measured = 0;
  const measure = async () => ++measured * 1.5;
  const a = await machineThroughput('cpu', { file, measure });
  assert.deepEqual([a.gflops, a.cached, measured], [1.5, false, 1]);
  const b = await machineThroughput('cpu', { file, measure });
  assert.deepEqual([b.gflops, b.cached, b.measuredAt, measured], [1.5, true, a.measuredAt, 1]);
  const w = await machineThroughput('wasm', { file, measure });
  assert.deepEqual([w.gflops, w.cached, measured], [3, false, 2], 'another backend is another entry');
  assert.equal(readThroughputCache(file).length, 2);
  const c = await machineThroughput('cpu', { file, measure, remeasure: true });
  assert.deepEqual([c.gflops, c.cached, measured], [4.5, false, 3]);
  assert.deepEqual(readThroughputCache(file).map((e) => [e.backend, e.gflops]).sort(), [['cpu', 4.5], ['wasm', 3]], 'remeasuring replaces the entry');
  fs.writeFileSync(file, '{not json');
  const d = await machineThroughput('cpu', { file, measure });
  assert.deepEqual([d.cached, measured], [false, 4]);
  assert.equal(readThroughputCache(file).length, 1, 'a malformed cache is rewritten');
});
