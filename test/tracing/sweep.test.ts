// Resumable sweeps: abort, crash and a killed process all resume from the saved cursor to the uninterrupted result.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { initBackend } from '../../model/engine';
import { activationPatching } from '../../tracing/activation';
import { pathPatching } from '../../tracing/path';
import { SweepAbortedError, SweepPlan, SweepState, fingerprint, runSweep } from '../../tracing/sweep';
import { SMALL, assertClose, randomBatch, randomModel } from './patching-helpers';

function plan(computed: number[], failAt?: number): SweepPlan {
  return {
    key: 'squares',
    total: 10,
    chunkEnd: (s) => Math.min(10, s + 3),
    compute: (s, e) => {
      if (failAt !== undefined && s >= failAt) throw new Error('simulated crash');
      computed.push(s);
      return Array.from({ length: e - s }, (_, i) => (s + i) ** 2);
    },
  };
}

test('runSweep: abort saves and throws; load resumes from the cursor; a crash keeps the chunks saved before it', async () => {
  const full = await runSweep(plan([]));
  assert.deepEqual(Array.from(full), Array.from({ length: 10 }, (_, i) => i * i));

  let saved: SweepState | undefined;
  const ctrl = new AbortController();
  const computed: number[] = [];
  await assert.rejects(
    runSweep(plan(computed), { save: (s) => { saved = JSON.parse(JSON.stringify(s)); if (s.chunksDone === 2) ctrl.abort(); }, signal: ctrl.signal }),
    (e: unknown) => e instanceof SweepAbortedError && e.state.cursor === 6,
  );
  assert.deepEqual(computed, [0, 3]);
  assert.equal(saved!.cursor, 6);
  const resumed: number[] = [];
  const out = await runSweep(plan(resumed), { load: () => saved });
  assert.deepEqual(resumed, [6, 9], 'only the rest is computed');
  assert.deepEqual(Array.from(out), Array.from(full));

  let last: SweepState | undefined;
  await assert.rejects(runSweep(plan([], 6), { save: (s) => { last = s; } }), /simulated crash/);
  assert.equal(last!.cursor, 6);
  assert.deepEqual(Array.from(await runSweep(plan([]), { load: () => last })), Array.from(full));

  await assert.rejects(runSweep({ ...plan([]), key: 'other' }, { load: () => last }), /key 'squares' does not match/);
  assert.notEqual(fingerprint('a', new Int32Array([1])), fingerprint('a', new Int32Array([2])));
});

test('an activation-patching sweep aborted midway resumes to exactly the uninterrupted scores', async () => {
  await initBackend('wasm');
  const model = randomModel(51);
  const b = randomBatch(52, 3, 7, SMALL.vocab, [1, 4]);
  const opts = { target: 'head_z_pos' as const, maxCopies: 5 };
  const full = await activationPatching(model, b, opts);
  let state: SweepState | undefined;
  const ctrl = new AbortController();
  await assert.rejects(
    activationPatching(model, b, { ...opts, sweep: { save: (s) => { state = s; if (s.chunksDone === 4) ctrl.abort(); }, signal: ctrl.signal } }),
    SweepAbortedError,
  );
  assert.ok(state!.cursor > 0 && state!.cursor < state!.total);
  const stored = JSON.parse(JSON.stringify(state)); // as if read back from a file
  let passes = 0;
  const resumed = await activationPatching(model, b, { ...opts, sweep: { load: () => stored, onProgress: () => passes++ } });
  assert.ok(passes < full.stats.passes + full.stats.skipped, 'the resumed sweep does only the remaining chunks');
  assert.deepEqual(Array.from(resumed.patched.values), Array.from(full.patched.values));
  // a state from different settings is refused
  await assert.rejects(activationPatching(model, b, { ...opts, direction: 'denoising', sweep: { load: () => stored } }), /does not match/);
  // ... and so is a state of another checkpoint (its weights changed); batching settings may change
  const other = randomModel(51);
  const bias = other.params['transformer.h.0.mlp.c_fc.bias'];
  bias.assign(bias.add(1e-3));
  await assert.rejects(activationPatching(other, b, { ...opts, sweep: { load: () => stored } }), /does not match/);
  const rebatched = await activationPatching(model, b, { ...opts, maxCopies: 2, sweep: { load: () => stored } });
  assertClose(rebatched.patched.values, full.patched.values, 1e-5, 'resumed with other copies per pass');
  other.dispose();
  model.dispose();
});

test('a path-patching sweep in a process killed (SIGKILL) midway resumes from its state file to the same scores', async () => {
  await initBackend('wasm');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'plasticity-sweep-'));
  const stateFile = path.join(dir, 'state.json');
  const distRoot = path.resolve(__dirname, '..', '..');
  // The child builds the same model and prompts, saves after every chunk, and kills itself after the 3rd save.
  const child = `
    const fs = require('fs');
    const { initBackend } = require(${JSON.stringify(path.join(distRoot, 'model', 'engine.js'))});
    const { pathPatching } = require(${JSON.stringify(path.join(distRoot, 'tracing', 'path.js'))});
    const { randomBatch, randomModel, SMALL } = require(${JSON.stringify(path.join(distRoot, 'test', 'tracing', 'patching-helpers.js'))});
    (async () => {
      await initBackend('wasm');
      const model = randomModel(61);
      const b = randomBatch(62, 3, 8, SMALL.vocab, [1, 2, 5]);
      await pathPatching(model, b, { receiver: { kind: 'logits' }, maxCopies: 2, sweep: { save: (s) => {
        fs.writeFileSync(${JSON.stringify(stateFile)}, JSON.stringify(s));
        if (s.chunksDone === 3) process.kill(process.pid, 'SIGKILL');
      } } });
      process.exit(0);
    })();`;
  const res = spawnSync(process.execPath, ['-e', child], { encoding: 'utf8', timeout: 120_000 });
  assert.equal(res.signal, 'SIGKILL', `child should have been killed mid-sweep (status ${res.status}, stderr ${res.stderr})`);
  const state = JSON.parse(fs.readFileSync(stateFile, 'utf8')) as SweepState;
  assert.equal(state.chunksDone, 3);
  assert.ok(state.cursor < state.total);

  const model = randomModel(61);
  const b = randomBatch(62, 3, 8, SMALL.vocab, [1, 2, 5]);
  const full = await pathPatching(model, b, { receiver: { kind: 'logits' }, maxCopies: 2 });
  const resumed = await pathPatching(model, b, { receiver: { kind: 'logits' }, maxCopies: 2, sweep: { load: () => JSON.parse(fs.readFileSync(stateFile, 'utf8')) } });
  assert.ok(resumed.stats.passes < full.stats.passes, `resumed ran ${resumed.stats.passes} of ${full.stats.passes} passes`);
  assert.deepEqual(Array.from(resumed.patched.values), Array.from(full.patched.values));
  fs.rmSync(dir, { recursive: true, force: true });
  model.dispose();
});
