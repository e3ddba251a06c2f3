// status/watch with several corruption branches: each branch's stages grouped under its name with its progress.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { renderStages, type ViewStage } from '../../cli/view/render';

test('stages of several branches are grouped under a branch line; a single branch stays flat', () => {
  const stages: ViewStage[] = [
    { stage: 'finetune', status: 'done' },
    { stage: 'corrupt-subject', status: 'done', branch: 'subject' },
    { stage: 'trace-corrupt-subject', status: 'running', branch: 'subject' },
    { stage: 'corrupt-name-moving', status: 'running', branch: 'name-moving', step: 3, total: 8 },
    { stage: 'trace-corrupt-name-moving', status: 'pending', branch: 'name-moving' },
    { stage: 'compare', status: 'pending' },
  ];
  const lines = renderStages(stages, { width: 100, color: false, now: 0 });
  assert.equal(lines.length, stages.length + 2);
  assert.match(lines[1], /^ {2}branch subject {2}1\/2$/);
  assert.match(lines[2], /^ {4}✓ corrupt-subject/);
  assert.match(lines[4], /^ {2}branch name-moving {2}0\/2$/);
  assert.match(lines[5], /^ {4}▶ corrupt-name-moving .*3\/8/);
  assert.match(lines[7], /^ {2}· compare/);

  const single = renderStages(stages.filter((s) => s.branch !== 'name-moving'), { width: 100, color: false, now: 0 });
  assert.ok(single.every((l) => !l.includes('branch')), single.join('\n'));
});
