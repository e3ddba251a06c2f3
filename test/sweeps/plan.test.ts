// `plan` on a half-cached store: after the tiny lineage ran (locally, same stage code), a config that differs from
// corrupt on lists exactly the corrupt-and-later stages as missing, with the very keys the lineage computed for the
// cached ones; estimates come from the cost model, calibrated on the stored stages' measured times.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runLineageLocally } from '../../lineage/local';
import { planConfigs, planLine } from '../../cli/plan';
import { openStore } from '../../store/open';
import { tinyConfig, tmpDir } from '../support/helpers';

test('plan lists exactly the stages a half-cached store is missing', async () => {
  const store = tmpDir('plan-store');
  const codeVersion = 'test-plan';
  const loaded = tinyConfig(store);
  const s = openStore(store);

  const empty = await planConfigs(s, [loaded.config], codeVersion, { throughputGflops: 1 });
  assert.equal(empty.cached, 0);
  assert.ok(empty.rows.every((r) => !r.cached));

  const ran = await runLineageLocally(loaded, { codeVersion });
  const same = await planConfigs(s, [loaded.config], codeVersion, { throughputGflops: 1 });
  assert.deepEqual(same.rows.filter((r) => !r.cached && r.kind !== 'validate').map((r) => r.stage), ['report'], 'only the report re-renders');
  for (const r of same.rows.filter((x) => x.cached)) assert.equal(r.key, ran.stages[r.stage].key, `${r.stage}: the plan's key is the lineage's`);

  const changed = tinyConfig(store, ['corrupt.rate=0.5']).config;
  const plan = await planConfigs(s, [changed], codeVersion, { throughputGflops: 1 });
  const cached = plan.rows.filter((r) => r.cached).map((r) => r.stage);
  const missing = plan.rows.filter((r) => !r.cached && r.kind !== 'validate').map((r) => r.stage);
  assert.deepEqual(cached, ['base', 'trace-base', 'finetune', 'trace-finetune-e1', 'trace-finetune-e2']);
  assert.deepEqual(missing, ['corrupt', 'trace-corrupt', 'retrain', 'trace-retrain', 'compare', 'report']);
  assert.equal(plan.missing, 6);
  assert.equal(plan.rows.find((r) => r.stage === 'corrupt')!.provisional, false, 'corrupt starts from a stored checkpoint: its key is final');
  assert.equal(plan.rows.find((r) => r.stage === 'retrain')!.provisional, true, 'retrain starts from the corrupt stage still to run');
  // estimates: every missing stage has one; the stored stages calibrate the train and trace kinds
  for (const r of plan.rows.filter((x) => !x.cached && x.kind !== 'validate')) assert.ok(r.estimateSeconds! > 0, `${r.stage} estimate`);
  assert.ok(plan.calibration.train && plan.calibration.train.from === 1, JSON.stringify(plan.calibration));
  assert.ok(plan.calibration.trace && plan.calibration.trace.from === 3, JSON.stringify(plan.calibration));
  assert.ok(plan.storeBytes > 0);
  assert.match(planLine(plan), /^plan: 11 stages, 5 cached, 6 to run, ≈ /);

  // a grid: the two points share nothing with each other beyond the store; stages they share are counted once
  const grid = await planConfigs(s, [changed, tinyConfig(store, ['corrupt.rate=0.25']).config], codeVersion, { throughputGflops: 1 });
  assert.equal(grid.stages, 11 + 6, 'the second point adds only its own corrupt..report stages');
  assert.ok(grid.rows.filter((r) => r.point === 1 && r.sharedWith === 0).every((r) => r.cached), 'only cached stages are shared across these points');
});
