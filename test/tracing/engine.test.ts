// The batched patching engine (tracing/batched.ts) directly: runVariants against one unbatched pass per variant,
// against a plain full run with the same hook, pass sizing by the memory budget, and its progress.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { initBackend, tf } from '../../model/engine';
import { hookName } from '../../model/hook-names';
import { HookPlan, copiesFor, disposePrepared, maskFor, prepareBatch, runVariants, Variant } from '../../tracing/batched';
import { assertClose, randomBatch, randomModel, referenceLd, SMALL } from './patching-helpers';

const H = SMALL.n_head;
const L = SMALL.n_layer;

/** Every head's z patched from the corrupt run, as one variant per head (start layer = its layer). */
function headVariants(): Variant[] {
  return Array.from({ length: L * H }, (_, i) => [{ hook: hookName.z(Math.floor(i / H)), layer: Math.floor(i / H), head: i % H }]);
}

test('runVariants: tiled passes give each variant the values of its own one-copy pass, bit for bit, in variant order', async () => {
  await initBackend('wasm');
  const model = randomModel(11);
  const batch = randomBatch(5, 3, 7, SMALL.vocab, [1, 4]);
  const p = prepareBatch(model, batch, Array.from({ length: L }, (_, l) => hookName.z(l)));
  try {
    // reversed so the engine must sort by start layer and still answer in the caller's order
    const variants = headVariants().reverse();
    const plansFor = (vs: number[]): Record<string, HookPlan[]> => {
      const chosen = vs.map((v) => variants[v]);
      const hooks = new Set(chosen.flat().map((q) => q.hook));
      return Object.fromEntries([...hooks].map((h) => [h, [{ source: p.corrupt.cache[h], mask: maskFor(batch, chosen, h, H) }]]));
    };
    const common = { count: variants.length, startLayerOf: (v: number) => variants[v][0].layer, residPreAt: (l: number) => p.clean.cache[hookName.residPre(l)], plansFor };
    const passes: number[] = [];
    const batched = runVariants(model, batch, { ...common, onPass: (d, n) => passes.push(d, n) });
    const single = runVariants(model, batch, { ...common, maxCopies: 1 });
    for (let v = 0; v < variants.length; v++) assert.deepEqual(Array.from(batched[v]), Array.from(single[v]), `variant ${v}`);
    assert.equal(passes.at(-2), variants.length);
    assert.equal(passes.length / 2, L, 'one pass per start layer when every layer fits one pass');
    // and against a plain full-vocabulary run with the same patch (the top block at END only, the LD from two W_U rows)
    for (const v of [0, variants.length - 1]) {
      const { layer, head } = variants[v][0] as { layer: number; head: number };
      const src = p.corrupt.cache[hookName.z(layer)];
      const ref = referenceLd(model, batch, 'clean', {
        [hookName.z(layer)]: (z) => {
          const m = tf.oneHot(tf.fill([batch.n, batch.T], head, 'int32'), H).reshape([batch.n, batch.T, H, 1]);
          return tf.add(tf.mul(z, tf.sub(1, m)), tf.mul(src, m));
        },
      });
      const mean = batched[v].reduce((a, x) => a + x, 0) / batch.n;
      assertClose([mean], [ref], 1e-5, `variant ${v} (${layer}.${head}) vs a plain hooked run`);
    }
  } finally {
    disposePrepared(p);
    model.dispose();
  }
});

test('copiesFor: the memory budget and maxRowsPerPass bound the copies per pass; a small budget changes no value', async () => {
  await initBackend('wasm');
  const model = randomModel(2);
  const batch = randomBatch(1, 4, 8, SMALL.vocab, [2]);
  const big = copiesFor(model, batch, 256);
  const tiny = copiesFor(model, batch, 0.05);
  assert.ok(big > tiny, `${big} copies at 256 MB vs ${tiny} at 0.05 MB`);
  assert.equal(copiesFor(model, batch, 0.0001), 1, 'at least one copy');
  assert.equal(copiesFor(model, batch, 256, 64, 8), 2, 'maxRowsPerPass 8 over 4 prompts');
  assert.throws(() => copiesFor(model, batch, 0), /memoryBudgetMB/);
  const p = prepareBatch(model, batch, [hookName.z(0)]);
  try {
    const variants = Array.from({ length: H }, (_, h) => [{ hook: hookName.z(0), layer: 0, head: h }]);
    const o = {
      count: H, residPreAt: (l: number) => p.clean.cache[hookName.residPre(l)],
      plansFor: (vs: number[]) => ({ [hookName.z(0)]: [{ source: p.corrupt.cache[hookName.z(0)], mask: maskFor(batch, vs.map((v) => variants[v]), hookName.z(0), H) }] }),
    };
    let passesSmall = 0;
    const small = runVariants(model, batch, { ...o, memoryBudgetMB: 0.05, onPass: () => passesSmall++ });
    const large = runVariants(model, batch, o);
    assert.ok(passesSmall > 1, `a 0.05 MB budget needs several passes, ran ${passesSmall}`);
    for (let v = 0; v < H; v++) assert.deepEqual(Array.from(small[v]), Array.from(large[v]));
    assert.throws(() => runVariants(model, batch, { ...o, startLayerOf: () => L }), /starts at layer/);
  } finally {
    disposePrepared(p);
    model.dispose();
  }
});
