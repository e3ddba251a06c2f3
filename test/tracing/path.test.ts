// Path patching against an unbatched reference built from plain full forwards and model/patch.ts hooks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { initBackend, tf } from '../../model/engine';
import { GPT2, HookFn } from '../../model/gpt2';
import { hookName } from '../../model/hook-names';
import { patchFrom } from '../../model/patch';
import { TraceBatch, tokensTensor } from '../../tracing/batch';
import { activationPatching } from '../../tracing/activation';
import { Head, pathPatching } from '../../tracing/path';
import { SMALL, assertClose, plainCache, randomBatch, randomModel, referenceLd } from './patching-helpers';

const L = SMALL.n_layer;
const H = SMALL.n_head;

/** Step A hooks: the sender's z from corrupt, every head of every later layer frozen to its clean z. */
function senderHooks(s: Head, clean: Record<string, tf.Tensor>, corrupt: Record<string, tf.Tensor>): Record<string, HookFn> {
  const hooks: Record<string, HookFn> = { [hookName.z(s.layer)]: patchFrom(corrupt[hookName.z(s.layer)], { heads: [s.head] }) };
  for (let l = s.layer + 1; l < L; l++) hooks[hookName.z(l)] = patchFrom(clean[hookName.z(l)]);
  return hooks;
}

function zCaches(model: GPT2, b: TraceBatch) {
  const names = Array.from({ length: L }, (_, l) => hookName.z(l));
  return { clean: plainCache(model, b, 'clean', names), corrupt: plainCache(model, b, 'corrupt', names) };
}

test('path patching to the logits equals the reference; last-layer senders equal plain head patching', async () => {
  await initBackend('wasm');
  const model = randomModel(21);
  const b = randomBatch(22, 4, 8, SMALL.vocab, [1, 3, 5]);
  const { clean, corrupt } = zCaches(model, b);
  const r = await pathPatching(model, b, { receiver: { kind: 'logits' } });
  const expected: number[] = [];
  for (let l = 0; l < L; l++) for (let h = 0; h < H; h++) expected.push(referenceLd(model, b, 'clean', senderHooks({ layer: l, head: h }, clean, corrupt)));
  assertClose(r.patched.values, expected, 1e-5, 'path → logits');
  const exact = await activationPatching(model, b, { target: 'head_z', layers: [L - 1] });
  assertClose(r.patched.values.slice((L - 1) * H), exact.patched.values, 1e-5, 'last layer: nothing downstream to freeze');
  // lower-layer senders do differ from their total effect (the frozen heads cut the indirect paths)
  const total = await activationPatching(model, b, { target: 'head_z', layers: [0] });
  assert.ok(Math.max(...total.patched.values.map((v, i) => Math.abs(v - r.patched.values[i]))) > 1e-3);
  const Fo = r.clean;
  const Fn = r.corrupt;
  assertClose(r.relative.values, expected.map((v) => (v - Fo) / Fo), 1e-4, 'relative');
  assertClose(r.normalised.values, expected.map((v) => (v - Fn) / (Fo - Fn)), 1e-4, 'normalised');
  assert.equal(r.relative.metric.normalised, '(F_patched − F_orig)/F_orig');
  assert.equal(r.normalised.metric.normalised, '(F_patched − F_new)/(F_orig − F_new)');
  Object.values({ ...clean, ...corrupt }).forEach((t) => t.dispose());
  model.dispose();
});

test('path patching to receiver heads (q at END, v at all positions) equals the two-step reference', async () => {
  await initBackend('wasm');
  const model = randomModel(23);
  const b = randomBatch(24, 3, 8, SMALL.vocab, [1, 2, 4]);
  const { clean, corrupt } = zCaches(model, b);
  const receivers: Head[] = [{ layer: 2, head: 1 }, { layer: 2, head: 3 }, { layer: 1, head: 0 }];
  for (const [input, positions] of [['q', { index: 7 }], ['v', 'all']] as const) {
    const r = await pathPatching(model, b, { receiver: { kind: 'heads', heads: receivers, input, positions }, maxCopies: 3 });
    const hook = { q: hookName.q, v: hookName.v }[input];
    for (let l = 0; l < L; l++) {
      for (let h = 0; h < H; h++) {
        const got = r.patched.values[l * H + h];
        if (l >= 2) {
          assert.ok(Number.isNaN(got), `sender ${l}.${h} is not below the top receiver layer`);
          continue;
        }
        // Step A: record the receivers' input; step B: a clean run with only that input replaced.
        const recorded = tf.tidy(() => model.run(tokensTensor(b, 'clean'), { hooks: senderHooks({ layer: l, head: h }, clean, corrupt), cache: [hook(1), hook(2)], logitsAt: 'none' }).cache);
        const pos = positions === 'all' ? undefined : [positions.index];
        const hooks = {
          [hook(1)]: patchFrom(recorded[hook(1)], { heads: [0], positions: pos }),
          [hook(2)]: patchFrom(recorded[hook(2)], { heads: [1, 3], positions: pos }),
        };
        const want = referenceLd(model, b, 'clean', hooks);
        Object.values(recorded).forEach((t) => t.dispose());
        assert.ok(Math.abs(got - want) < 1e-5, `${input}: sender ${l}.${h}: ${got} vs ${want}`);
      }
    }
    assert.ok(r.stats.passes >= 2 && Math.max(...r.stats.copiesPerPass) > 1);
  }
  Object.values({ ...clean, ...corrupt }).forEach((t) => t.dispose());
  model.dispose();
});

test('path patching with identical clean and corrupt prompts changes nothing; bad receivers are refused', async () => {
  await initBackend('wasm');
  const model = randomModel(25);
  const b = randomBatch(26, 3, 6, SMALL.vocab, [1]);
  const same = { ...b, corrupt: b.clean };
  const r = await pathPatching(model, same, { receiver: { kind: 'heads', heads: [{ layer: 2, head: 0 }], input: 'k' } });
  const finite = Array.from(r.patched.values).filter(Number.isFinite);
  assert.equal(finite.length, 2 * H);
  assertClose(finite, Array(finite.length).fill(r.clean), 2e-5, 'identity');
  await assert.rejects(pathPatching(model, b, { receiver: { kind: 'heads', heads: [{ layer: 3, head: 0 }], input: 'q' } }), /receiver.heads: head 3.0/);
  await assert.rejects(pathPatching(model, b, { receiver: { kind: 'heads', heads: [{ layer: 1, head: 0 }], input: 'q' }, senders: [{ layer: 1, head: 2 }] }), /not below/);
  model.dispose();
});
