// `corrupt` as one variant (today's stage names) or a list of branches (suffixed names), and its config errors.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError } from '../../config/load';
import { corruptBranches, planStages } from '../../lineage/plan';
import { TINY_CONFIG, tinyConfig } from '../support/helpers';
import { loadConfig } from '../../config/load';

test('a single corrupt mapping keeps the one-chain stage names; a list gets corrupt-<name>, retrain-<name>, …', () => {
  const single = tinyConfig('/tmp/x').config;
  assert.deepEqual(corruptBranches(single).map((b) => [b.name, b.corrupt, b.retrained]), [['subject', 'corrupt', 'retrain']]);
  assert.deepEqual(planStages(single).map((s) => s.name).slice(6, 10), ['corrupt', 'trace-corrupt', 'retrain', 'trace-retrain']);

  const list = tinyConfig('/tmp/x', ['corrupt=[{"transform":"subject"},{"transform":"name-moving","rate":0.5,"from":"base"},{"name":"nm","transform":"name-moving"}]']).config;
  const branches = corruptBranches(list);
  assert.deepEqual(branches.map((b) => b.name), ['subject', 'name-moving-r0.5', 'nm']);
  assert.deepEqual(branches.map((b) => b.clean), ['finetune-e2', 'base', 'finetune-e2']);
  const plan = planStages(list);
  assert.deepEqual(plan.filter((s) => s.branch === 'nm').map((s) => s.name), ['corrupt-nm', 'trace-corrupt-nm', 'retrain-nm', 'trace-retrain-nm']);
  assert.equal(plan.filter((s) => s.branch !== undefined).length, 12);
});

test('bad corrupt variants name the field', () => {
  const err = (set: string) => {
    try {
      loadConfig(TINY_CONFIG, { set: [set] });
    } catch (e) {
      assert.ok(e instanceof ConfigError);
      return (e as Error).message;
    }
    throw new Error(`${set} was accepted`);
  };
  assert.match(err('corrupt.transform=bogus'), /corrupt\.transform: Invalid option: expected one of "subject"\|"name-moving"/);
  assert.match(err('corrupt=[{"transform":"nope"}]'), /corrupt\.0\.transform: Invalid option/);
  assert.match(err('corrupt=[{"transform":"subject"},{"transform":"subject"}]'), /corrupt\.1\.name: branch name 'subject' is also variant 0's/);
  assert.match(err('corrupt=[{"transform":"subject","retrain":{"epochs":0}}]'), /corrupt\.0\.retrain\.epochs/);
});
