// Parallel activation patching: the same result as the single-thread sweep (worker threads doing all of it, or a
// share beside the caller), a failing worker thread surfaces as an error, and threads 'auto' only starts workers for big sweeps.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { initBackend } from '../../model/engine';
import { registerJob } from '../../jobs/offthread';
import { ActivationPatchingOptions, PatchingResult, activationPatching } from '../../tracing/activation';
import { GPT2_SMALL } from '../../model/config';
import { TraceBatch } from '../../tracing/batch';
import { MIN_PARALLEL_GFLOP, PATCHING_SHARE_JOB, activationPatchingParallel, modelFromShared, shareWeights, sweepGflop } from '../../tracing/parallel';
import { SMALL, randomBatch, randomModel } from './patching-helpers';

const CONFIG = { ...SMALL, n_layer: 4 };

function assertSameResult(par: PatchingResult, single: PatchingResult, what: string): void {
  assert.deepEqual(Array.from(par.patched.values), Array.from(single.patched.values), `${what}: patched values bit for bit`);
  assert.deepEqual(Array.from(par.normalised.values), Array.from(single.normalised.values), `${what}: normalised values`);
  assert.deepEqual({ ...par.patched, values: null }, { ...single.patched, values: null }, `${what}: axes, labels, metric, settings`);
  assert.deepEqual({ ...par.normalised, values: null }, { ...single.normalised, values: null }, `${what}: normalised metadata`);
  assert.equal(par.clean, single.clean);
  assert.equal(par.corrupt, single.corrupt);
  const { ms: _a, ...ps } = par.stats;
  const { ms: _b, ...ss } = single.stats;
  assert.deepEqual(ps, ss, `${what}: passes, skips and pass sizes`);
}

test('shared weights rebuild the same model', async () => {
  await initBackend('wasm');
  const model = randomModel(5, CONFIG);
  const copy = modelFromShared(shareWeights(model));
  for (const [name, v] of Object.entries(model.params)) assert.deepEqual(copy.params[name].dataSync(), v.dataSync(), name);
  copy.dispose();
  model.dispose();
});

test('parallel patching equals the single-thread sweep (workers only, and caller + worker; several targets)', async () => {
  await initBackend('wasm');
  const model = randomModel(11, CONFIG);
  // two batches (different lengths) so the merge has per-batch values to weigh
  const set = [randomBatch(1, 3, 8, CONFIG.vocab, [2, 5]), randomBatch(2, 2, 6, CONFIG.vocab, [1, 3])];
  const cases: [string, ActivationPatchingOptions][] = [
    ['head_z noising', { target: 'head_z' }],
    ['head_z denoising, layers 3,0,2', { target: 'head_z', direction: 'denoising', layers: [3, 0, 2] }],
    ['mlp_out at END', { target: 'mlp_out', positions: ['END'] }],
    ['head_z small passes', { target: 'head_z', maxCopies: 3 }],
  ];
  try {
    for (const [what, o] of cases) {
      const single = await activationPatching(model, set, o);
      assert.ok(single.stats.passes > 0, `${what}: the sweep ran passes`);
      const workersOnly = await activationPatchingParallel(model, set, o, { threads: 2, callerComputes: false });
      assertSameResult(workersOnly, single, `${what} (2 workers)`);
      assert.equal(workersOnly.parallel.perThread.length, 2);
      assert.ok(workersOnly.parallel.perThread.every((t) => t.thread > 0), 'only workers computed');
      const nLayers = (o.layers ?? [0, 1, 2, 3]).length;
      assert.deepEqual(workersOnly.parallel.perThread.flatMap((t) => t.layers).sort(), [...Array(nLayers).keys()], 'each layer computed once');
      const withCaller = await activationPatchingParallel(model, set, o, { threads: 2 });
      assertSameResult(withCaller, single, `${what} (caller + worker)`);
    }
  } finally {
    model.dispose();
  }
});

test('per-prompt patched values: they average to the map, the same from worker threads, absent after a resume', async () => {
  await initBackend('wasm');
  const model = randomModel(11, CONFIG);
  const set = [randomBatch(1, 3, 8, CONFIG.vocab, [2, 5]), randomBatch(2, 2, 6, CONFIG.vocab, [1, 3])];
  const o: ActivationPatchingOptions = { target: 'head_z', perPrompt: true, maxCopies: 3 };
  try {
    const single = await activationPatching(model, set, o);
    const pp = single.perPrompt!;
    const nV = CONFIG.n_layer * CONFIG.n_head;
    assert.equal(pp.components, nV);
    assert.equal(pp.patched.length, 5 * nV);
    assert.equal(pp.clean.length, 5);
    const avg = (xs: ArrayLike<number>) => Array.from(xs).reduce((a, x) => a + x, 0) / xs.length;
    assert.ok(Math.abs(avg(pp.clean) - single.clean) < 1e-5 && Math.abs(avg(pp.corrupt) - single.corrupt) < 1e-5);
    for (let v = 0; v < nV; v++) {
      const m = avg(Array.from({ length: 5 }, (_, n) => pp.patched[n * nV + v]));
      assert.ok(Math.abs(m - single.patched.values[v]!) < 1e-5, `component ${v}: per-prompt mean ${m} vs ${single.patched.values[v]}`);
    }
    for (const threads of [{ threads: 2, callerComputes: false }, { threads: 2 }]) {
      const par = await activationPatchingParallel(model, set, o, threads);
      assertSameResult(par, single, `perPrompt ${JSON.stringify(threads)}`);
      assert.deepEqual(Array.from(par.perPrompt!.patched), Array.from(pp.patched), 'per-prompt values bit for bit');
    }
    assert.equal((await activationPatching(model, set, { ...o, perPrompt: false })).perPrompt, undefined);
    // a resumed sweep did not compute the loaded chunks: no per-prompt values rather than partial ones
    let saved: import('../../tracing/sweep').SweepState | undefined;
    await activationPatching(model, set, { ...o, sweep: { save: (st) => void (saved = st) } });
    const resumed = await activationPatching(model, set, { ...o, sweep: { load: () => saved } });
    assert.deepEqual(Array.from(resumed.patched.values), Array.from(single.patched.values));
    assert.equal(resumed.perPrompt, undefined);
  } finally {
    model.dispose();
  }
});

test('a failing worker thread surfaces as an error naming the thread', async () => {
  await initBackend('wasm');
  const model = randomModel(3, CONFIG);
  const batch = randomBatch(4, 2, 6, CONFIG.vocab, [2]);
  const fixture = path.join(__dirname, 'fixtures', 'failing-share');
  try {
    registerJob(PATCHING_SHARE_JOB, fixture, 'throwingShare');
    await assert.rejects(activationPatchingParallel(model, batch, { target: 'head_z' }, { threads: 2 }),
      /parallel patching: worker thread 1 of 1 failed: share fixture: asked to fail/);
    registerJob(PATCHING_SHARE_JOB, fixture, 'exitingShare');
    await assert.rejects(activationPatchingParallel(model, batch, { target: 'head_z' }, { threads: 2, callerComputes: false }),
      /parallel patching: worker thread \d of 2 failed: .*exited with code 7/);
  } finally {
    registerJob(PATCHING_SHARE_JOB, require.resolve('../../tracing/parallel'), 'runPatchingShare');
    model.dispose();
  }
  // and the real job works again after the stand-ins
  const ok = await activationPatchingParallel(randomModel(3, CONFIG), batch, { target: 'head_z' }, { threads: 2, callerComputes: false });
  assert.equal(ok.patched.values.length, CONFIG.n_layer * CONFIG.n_head);
});

test('options the parallel sweep cannot honour are refused up front', async () => {
  await initBackend('wasm');
  const model = randomModel(3, CONFIG);
  const batch = randomBatch(4, 2, 6, CONFIG.vocab, [2]);
  try {
    await assert.rejects(activationPatchingParallel(model, batch, { target: 'head_z', sweep: {} }, { threads: 2 }), /sweep control .* not supported with threads > 1/);
    await assert.rejects(activationPatchingParallel(model, batch, { target: 'head_z' }, { threads: 0 }), /threads: expected a positive integer, got 0/);
    await assert.rejects(activationPatchingParallel(model, batch, { target: 'head_z', layers: [9] }, { threads: 2 }), /layers: 9 is outside \[0, 4\)/);
  } finally {
    model.dispose();
  }
});

test("threads 'auto' stays on the calling thread for a small sweep and picks workers for a GPT-2-small-sized one", async () => {
  await initBackend('wasm');
  const model = randomModel(3, CONFIG);
  const batch = randomBatch(4, 2, 6, CONFIG.vocab, [2]);
  try {
    assert.ok(sweepGflop(model, [batch], { target: 'head_z' }) < MIN_PARALLEL_GFLOP);
    const r = await activationPatchingParallel(model, batch, { target: 'head_z' });
    assert.equal(r.parallel.threads, 1);
    assert.deepEqual(r.parallel.perThread.map((t) => t.thread), [0]);
  } finally {
    model.dispose();
  }
  // 144 heads over 8 prompts × 16 tokens: Σ_l 12·(12 − l) = 936 block runs of 128 tokens at 24·768² FLOP each
  const big = { n: 8, T: 16 } as TraceBatch;
  assert.ok(Math.abs(sweepGflop({ config: GPT2_SMALL }, [big], { target: 'head_z' }) - (936 * 128 * 24 * 768 * 768) / 1e9) < 1e-6);
  assert.ok(sweepGflop({ config: GPT2_SMALL }, [big], { target: 'head_z' }) >= MIN_PARALLEL_GFLOP);
});
