// Sweeps through real Temporal: a 2-seed × 2-rate sweep of the tiny lineage runs as four child lineages of one
// parent; the stages the points share (per seed: base, its trace, the clean fine-tune and its traces) are computed
// exactly once; children carry the PlasticitySweep attribute; the aggregate report gives mean ± spread per setting.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { expandSweep } from '../../config/sweep';
import { openStore } from '../../store/open';
import { startSweep, sweepStatus } from '../../temporal/sweep-client';
import { sweepKey } from '../../temporal/search-attributes';
import type { SweepData } from '../../report/sweep-aggregate';
import { TINY_CONFIG, tmpDir, useTestWorkers } from '../support/helpers';

const t = useTestWorkers('sweep');

test('a 2-seed × 2-rate sweep computes every shared stage once and aggregates across seeds', async () => {
  const store = tmpDir('sweep-store');
  const sweep = expandSweep(TINY_CONFIG, { set: [`store=${store}`], grid: ['seed=0,1', 'corrupt.rate=0.5,1'], concurrency: 2 });
  assert.equal(sweep.points.length, 4);
  assert.deepEqual(sweep.points.map((p) => p.label), ['seed=0,corrupt.rate=0.5', 'seed=0,corrupt.rate=1', 'seed=1,corrupt.rate=0.5', 'seed=1,corrupt.rate=1']);
  const started = await startSweep(t.ctx().client, sweep, { queues: t.prefix, codeVersion: `test-${t.prefix}`, options: { progressIntervalMs: 500 } });
  const result = await started.handle.result();

  assert.deepEqual(result.points.map((p) => p.status), ['completed', 'completed', 'completed', 'completed']);
  const results = result.points.map((p) => p.result!);
  // every stage key computed ('done') by exactly one child; the others found it cached
  const byKey = new Map<string, { stage: string; done: number; uses: number }>();
  for (const r of results) {
    for (const [stage, out] of Object.entries(r.stages)) {
      const e = byKey.get(out.key) ?? { stage, done: 0, uses: 0 };
      e.uses++;
      if (r.statuses[stage] === 'done') e.done++;
      byKey.set(out.key, e);
    }
  }
  for (const [key, e] of byKey) assert.equal(e.done, 1, `${e.stage} (${key}) computed ${e.done} times`);
  const shared = [...byKey.values()].filter((e) => e.uses > 1).map((e) => e.stage).sort();
  assert.deepEqual(shared, ['base', 'base', 'finetune', 'finetune', 'trace-base', 'trace-base', 'trace-finetune-e1', 'trace-finetune-e1', 'trace-finetune-e2', 'trace-finetune-e2']);
  const keysOf = (stage: string) => new Set(results.map((r) => r.stages[stage].key));
  assert.equal(keysOf('base').size, 2, 'one base per seed');
  assert.equal(keysOf('corrupt').size, 4, 'one corrupt stage per point');
  // same seed → same base; the rate changes the corrupt stage only
  assert.equal(results[0].stages.finetune.key, results[1].stages.finetune.key);
  assert.notEqual(results[0].stages.finetune.key, results[2].stages.finetune.key);

  // children are the sweep's: workflow ids, search attribute, status
  const status = await sweepStatus(t.ctx().client, started.workflowId);
  assert.equal(status.status, 'COMPLETED');
  assert.equal(status.children.length, 4);
  for (const c of status.children) {
    assert.equal(c.child?.status, 'COMPLETED', `${c.label}: ${c.child?.status}`);
    const d = await t.ctx().client.workflow.getHandle(c.workflowId!).describe();
    assert.equal(d.typedSearchAttributes.get(sweepKey), started.workflowId);
  }
  const parent = await started.handle.describe();
  assert.equal(parent.typedSearchAttributes.get(sweepKey), started.workflowId);

  // the aggregate: JSON (mean ± spread across the two seeds per rate), CSV and HTML in the store
  assert.ok(result.json && result.csv && result.report, 'aggregate artifacts');
  const s = openStore(store);
  const data = JSON.parse((await s.getBlob(result.json)).toString('utf8')) as SweepData;
  assert.deepEqual(data.settings.map((x) => x.setting), ['corrupt.rate=0.5', 'corrupt.rate=1']);
  for (const setting of data.settings) {
    const ld = setting.traces['finetune-e2']?.logitDiff;
    assert.equal(ld?.n, 2, 'two seeds per setting');
    const values = setting.points.map((i) => results[i]).map((r) => r.headline);
    for (const [k, v] of Object.entries(setting.headline)) {
      const xs = values.map((h) => h[k]).filter((x) => Number.isFinite(x));
      if (xs.length !== 2) continue;
      assert.ok(Math.abs(v.mean! - (xs[0] + xs[1]) / 2) < 1e-9, `${k} mean`);
      assert.ok(Math.abs(v.std! - Math.abs(xs[0] - xs[1]) / Math.SQRT2) < 1e-9, `${k} std`);
    }
    assert.ok(setting.headMaps.length > 0, 'averaged head maps');
    assert.ok(setting.headMaps.every((m) => m.stability.every((x) => x === null || (x >= 0 && x <= 1))));
  }
  const csv = (await s.getBlob(result.csv)).toString('utf8');
  assert.match(csv, /^setting,metric,mean,std,min,max,n\n/);
  assert.match(csv, /corrupt\.rate=0\.5,trace\.finetune-e2\.logitDiff,/);
  const html = (await s.getBlob(result.report)).toString('utf8');
  assert.match(html, /<html/);
  assert.match(html, /stability band/);
});
