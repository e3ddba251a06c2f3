// The CLI's sweep views: ls's query includes sweeps (and filters by PlasticitySweep), its table nests a sweep's
// children under it, and status shows one line per point.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildListQuery, formatRunTable, type ListedRun } from '../../cli/commands/ls';
import { sweepStatusText } from '../../cli/commands/sweep';
import type { SweepStatusReport } from '../../temporal/sweep-client';

const run = (workflowId: string, type: string, sweep: string | null): ListedRun => ({
  workflowId, type, sweep, runId: 'r', status: 'running', experiment: 'tiny-test', model: null, stage: 'base', fraction: 0.5, startTime: '2026-12-02T10:00:00.000Z', closeTime: null,
});

test('ls lists sweeps with their children nested, and filters by sweep', () => {
  assert.equal(buildListQuery({}), "(WorkflowType = 'lineageWorkflow' OR WorkflowType = 'sweepWorkflow')");
  assert.match(buildListQuery({ sweep: 'sweep-x' }), /AND PlasticitySweep = 'sweep-x'$/);
  const table = formatRunTable([run('sweep-x-p1', 'lineage', 'sweep-x'), run('sweep-x', 'sweep', 'sweep-x'), run('lineage-a', 'lineage', null), run('sweep-x-p0', 'lineage', 'sweep-x')]);
  const ids = table.split('\n').slice(1).map((l) => l.trim().split(/\s{2,}/)[0]);
  assert.deepEqual(ids, ['sweep sweep-x', '└ sweep-x-p0', '└ sweep-x-p1', 'lineage-a']);
});

test('status of a sweep: one line per point with its child and why it waits', () => {
  const report: SweepStatusReport = {
    workflowId: 'sweep-x', status: 'RUNNING', startTime: new Date(),
    progress: { name: 'x', status: 'running', points: [
      { index: 0, label: 'seed=0', status: 'running', workflowId: 'sweep-x-p0' },
      { index: 1, label: 'seed=0,corrupt.rate=1', status: 'waiting', waitingFor: [0] },
    ] },
    children: [
      { index: 0, label: 'seed=0', workflowId: 'sweep-x-p0', child: { workflowId: 'sweep-x-p0', runId: 'r', status: 'RUNNING', startTime: new Date(), pendingActivities: [], progress: { name: 'x', configHash: 'h', status: 'running', current: 'finetune', fraction: 0.42, stages: [], startedAt: '' } } },
      { index: 1, label: 'seed=0,corrupt.rate=1' },
    ],
  };
  const text = sweepStatusText(report);
  assert.match(text, /^sweep-x: running · 1 running, 1 waiting/);
  assert.match(text, /\[0\] seed=0 +running +sweep-x-p0 +finetune 42%/);
  assert.match(text, /\[1\] seed=0,corrupt\.rate=1 +waiting .*waits for point 0 \(shared stages\)/);
});
