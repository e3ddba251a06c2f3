// `plasticity store verify [--repair]`: exit 0 on a sound store, 1 when a blob is corrupt (until repaired), 2 on bad usage.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { openStore } from '../../store/open';

const cli = path.resolve(__dirname, '..', '..', 'cli', 'main.js');
const verify = (...args: string[]) => spawnSync(process.execPath, [cli, 'store', 'verify', ...args], { encoding: 'utf8' });

test('store verify: exit codes 0 / 1 / 2, --repair quarantines the bad blob and its manifest', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'plasticity-verify-cli-'));
  const store = openStore(dir);
  const ref = await store.putBlob(Buffer.from('a trace, say'), 'trace');
  await store.putJson('stages/t/result.json', { artifacts: [ref] });
  assert.equal(verify('--store', dir).status, 0);
  fs.writeFileSync(path.join(dir, ref.uri), 'a trace, sa!');
  const bad = verify('--store', dir);
  assert.equal(bad.status, 1, bad.stdout + bad.stderr);
  assert.match(bad.stdout, new RegExp(`corrupt: ${ref.uri}`));
  assert.equal(verify('--store', dir, '--repair').status, 1, 'problems were found (and repaired)');
  assert.equal(fs.existsSync(path.join(dir, ref.uri)), false);
  assert.equal(fs.readdirSync(path.join(dir, 'quarantine', 'stages', 't')).length, 1);
  assert.equal(verify('--store', dir).status, 0, 'after the repair the store is sound');
  assert.equal(verify('--no-such-flag').status, 2);
  fs.rmSync(dir, { recursive: true, force: true });
});
