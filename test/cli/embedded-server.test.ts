// Two `plasticity run`s at once with no server configured: the first starts the embedded dev server, the second
// uses it, and the first waits for the second before it stops the server (the second used to die with exit 5).
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { isServerListening } from '../../temporal/dev-server';
import { otherServerUsers, registerServerUser } from '../../temporal/server-users';
import { TINY_CONFIG } from '../support/helpers';
import { collect, runCli, startCli, type CliResult } from './cli-process';

const exitOf = (r: CliResult) => `exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`;

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** A loopback port p with p + 1000 (the Web UI) free as well. */
async function freePortPair(): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const p = 20000 + Math.floor(Math.random() * 40000);
    if ((await portFree(p)) && (await portFree(p + 1000))) return p;
  }
  throw new Error('no free loopback port pair');
}

describe('server users', () => {
  it('a live process is listed until it takes its record back; records of dead processes are removed', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'plasticity-users-'));
    const dead = 2 ** 22 + 12345; // above the kernel's pid_max
    registerServerUser(dir, dead);
    const parent = registerServerUser(dir, process.ppid);
    assert.deepEqual(otherServerUsers(dir), [process.ppid]);
    assert.ok(!fs.existsSync(path.join(dir, 'users', String(dead))), 'the dead process record stays');
    assert.deepEqual(otherServerUsers(dir, process.ppid), []); // itself never counts
    parent();
    assert.deepEqual(otherServerUsers(dir), []);
    fs.rmSync(dir, { recursive: true, force: true });
  });
});

describe('the embedded dev server is shared by concurrent runs', () => {
  it('the run that started it waits for the other before stopping it; both complete', { timeout: 600_000 }, async () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'plasticity-embedded-'));
    const port = await freePortPair();
    const env = { TEMPORAL_ADDRESS: undefined, PLASTICITY_TASK_QUEUE_PREFIX: undefined, PLASTICITY_DEV_SERVER_PORT: String(port), PLASTICITY_STATE_DIR: path.join(tmp, 'state') };
    // The first trains long enough for the second to start meanwhile; the second trains longer still.
    const first = startCli(['run', TINY_CONFIG, '--json', '--set', 'name=embedded-first', '--set', 'model.train.steps=150', '--set', `store=${tmp}/first`], env);
    const firstDone = collect(first, 590_000, ['run', 'first']);
    const started = await new Promise<boolean>((resolve) => {
      let out = '';
      first.stdout!.on('data', (c: Buffer) => {
        out += c.toString();
        if (out.includes('"type":"start"')) resolve(true);
      });
      first.once('exit', () => resolve(false));
    });
    if (!started) assert.fail(`the first run never started: ${exitOf(await firstDone)}`);
    const firstRunning = first.exitCode === null;
    const second = await runCli(['run', TINY_CONFIG, '--json', '--set', 'name=embedded-second', '--set', 'model.train.steps=400', '--set', `store=${tmp}/second`], env, { timeoutMs: 590_000 });
    const a = await firstDone;
    try {
      assert.ok(firstRunning, 'the first run ended before the second started');
      assert.equal(second.code, 0, exitOf(second));
      assert.match(second.stdout, /"type":"end".*"status":"completed"/);
      assert.equal(a.code, 0, exitOf(a));
      assert.match(a.stderr, /starting an embedded dev server/);
      assert.doesNotMatch(second.stderr, /starting an embedded dev server/);
      assert.match(a.stderr, /the embedded server is in use by another plasticity command \(pid \d+\): it stops when they end/);
      assert.equal(await isServerListening(`127.0.0.1:${port}`, 1000), false, 'the embedded server outlived both runs');
      assert.deepEqual(fs.readdirSync(path.join(tmp, 'state', 'users')), []);
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });
});
