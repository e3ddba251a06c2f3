import { test } from 'node:test';
import assert from 'node:assert/strict';
import { directLogitAttribution } from '../../tracing/dla';
import { scoreAt } from '../../tracing/scores';
import { loadTiny, readReference, referenceBatch } from './fixture';

const ref = readReference();

test('per-head DLA and the other components match the Python reference within 1e-4', async () => {
  const model = await loadTiny();
  const r = await directLogitAttribution(model, [referenceBatch(ref)]);
  assert.deepEqual(r.heads.shape, [2, 4]);
  for (let l = 0; l < 2; l++) {
    for (let h = 0; h < 4; h++) {
      assert.ok(Math.abs(scoreAt(r.heads, l, h) - ref.dla[l][h]) < 1e-4, `dla ${l}.${h}: ${scoreAt(r.heads, l, h)} vs ${ref.dla[l][h]}`);
    }
  }
  assert.deepEqual(Object.keys(r.components).sort(), Object.keys(ref.dla_other_components).sort());
  for (const [name, v] of Object.entries(ref.dla_other_components)) {
    assert.ok(Math.abs(r.components[name] - v) < 1e-4, `${name}: ${r.components[name]} vs ${v}`);
  }
  assert.ok(Math.abs(r.logitDiff - ref.clean_ld_mean) < 1e-4);
  model.dispose();
});

test('heads + MLPs + embeddings + biases add up to the logit difference (untied model, split batches)', async () => {
  const model = await loadTiny('tiny-gpt2-untied');
  const b = referenceBatch(ref);
  const part = (from: number, to: number) => ({
    ...b, n: to - from, clean: b.clean.slice(from * 12, to * 12), corrupt: b.corrupt.slice(from * 12, to * 12),
    io: b.io.slice(from, to), s: b.s.slice(from, to), end: b.end.slice(from, to), positions: b.positions!.slice(from, to),
  });
  const whole = await directLogitAttribution(model, [b]);
  const split = await directLogitAttribution(model, [part(0, 5), part(5, 8)]);
  const sum = (r: typeof whole) => r.heads.values.reduce((a, x) => a + x, 0) + Object.values(r.components).reduce((a, x) => a + x, 0);
  assert.ok(Math.abs(sum(whole) - whole.logitDiff) < 1e-4, `sum ${sum(whole)} vs LD ${whole.logitDiff}`);
  assert.ok(whole.closureError < 1e-4);
  assert.ok(Math.abs(split.logitDiff - whole.logitDiff) < 1e-5);
  for (let i = 0; i < 8; i++) assert.ok(Math.abs(split.heads.values[i] - whole.heads.values[i]) < 1e-5);
  // the head terms are not all negligible: the decomposition is not carried by the other components alone
  assert.ok(whole.heads.values.some((v) => Math.abs(v) > 1e-2));
  model.dispose();
});
