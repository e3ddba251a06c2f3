// Work folders of activity attempts: an id or stage name never leads outside the work root (`../../../escape` used
// to), and folders left by dead processes are removed when a worker starts.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import type { Info } from '@temporalio/activity';
import { attemptWorkDir, removeStaleWorkDirs, safeSegment, workRoot } from '../../activities/train';

const info = (workflowId: string, attempt = 1) => ({ attempt, workflowExecution: { workflowId, runId: 'r' } }) as unknown as Info;

test('attempt folders stay inside the work root whatever the workflow id or stage name', () => {
  const root = workRoot() + path.sep;
  for (const [id, stage] of [['../../../escape', 'base'], ['/etc/passwd', '../x'], ['..', '..'], ['a/../../b', 'trace-base'], ['.', ''], ['é ü\n', 'ok']]) {
    const dir = attemptWorkDir(info(id), stage);
    assert.ok(path.resolve(dir).startsWith(root), `${JSON.stringify(id)}/${JSON.stringify(stage)} → ${dir} is inside ${root}`);
    const rel = path.relative(workRoot(), dir).split(path.sep);
    assert.equal(rel.length, 3, `exactly <id>/<stage>/<attempt> below the root: ${rel.join(' | ')}`);
    for (const seg of rel) assert.ok(seg !== '..' && seg !== '.' && !seg.startsWith('.') && seg.length > 0, `segment ${JSON.stringify(seg)}`);
  }
});

test('ids that are safe stay readable; different unsafe ids never share a folder', () => {
  assert.equal(safeSegment('lineage-tiny-test-b33d2afe-20261202T155022'), 'lineage-tiny-test-b33d2afe-20261202T155022');
  assert.notEqual(safeSegment('a/b'), safeSegment('a_b'));
  assert.notEqual(safeSegment('../x'), safeSegment('__/x'));
});

test('removeStaleWorkDirs removes the attempt folders of dead processes and keeps live ones', async () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'workroot-'));
  const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']).stdout.toString(); // exited
  const deadDir = path.join(root, 'wf-1', 'base', `attempt-1-${dead}-1700000000000`);
  const liveDir = path.join(root, 'wf-2', 'finetune', `attempt-2-${process.pid}-1700000000001`);
  for (const d of [deadDir, liveDir]) {
    fs.mkdirSync(path.join(d, 'parent'), { recursive: true });
    fs.writeFileSync(path.join(d, 'parent', 'model.safetensors'), 'x'.repeat(100));
  }
  const removed = await removeStaleWorkDirs(root);
  assert.deepEqual(removed, [deadDir]);
  assert.ok(!fs.existsSync(deadDir), 'the dead process folder is gone');
  assert.ok(fs.existsSync(liveDir), 'a running process keeps its folder');
  fs.rmSync(root, { recursive: true, force: true });
});

test('report index keys of different workflow ids never collide', async () => {
  const { reportIndexKey } = await import('../../report/store-index');
  assert.notEqual(reportIndexKey('a/b'), reportIndexKey('a_b'));
  assert.equal(reportIndexKey('lineage-x-1'), 'reports/lineage-x-1.json');
  assert.match(reportIndexKey('../../etc'), /^reports\/[A-Za-z0-9_-][A-Za-z0-9._-]*\.json$/);
});
