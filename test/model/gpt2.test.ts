import { test } from 'node:test';
import assert from 'node:assert/strict';
import { initBackend, nativeAvailable, tf } from '../../model/engine';
import { GPT2, paramShapes } from '../../model/gpt2';
import { ModelConfig, parameterCount } from '../../model/config';
import { allHookNames, hookName } from '../../model/hook-names';
import { patchFrom } from '../../model/patch';
import { modelToArrays, paramsFromArrays } from '../../model/hf';
import { parseSafetensors, serializeSafetensors } from '../../model/safetensors';

const TINY: ModelConfig = { n_layer: 2, d_model: 32, n_head: 4, d_head: 8, d_mlp: 64, n_ctx: 16, vocab: 50, tied: true, ln_eps: 1e-5 };
const tokens = () => tf.tensor2d([[1, 5, 9, 2, 7, 3], [4, 4, 8, 1, 0, 6]], [2, 6], 'int32');

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

test('every TransformerLens hook point is cached with the expected shape', async () => {
  await initBackend('wasm');
  const m = GPT2.init(TINY, 3);
  const names = allHookNames(TINY.n_layer);
  const { cache, logits } = m.run(tokens(), { cache: names });
  assert.deepEqual(Object.keys(cache).sort(), [...names].sort());
  assert.deepEqual(cache[hookName.z(1)].shape, [2, 6, 4, 8]);
  assert.deepEqual(cache[hookName.pattern(0)].shape, [2, 4, 6, 6]);
  assert.deepEqual(cache[hookName.residPost(1)].shape, [2, 6, 32]);
  assert.deepEqual(logits!.shape, [2, 6, 50]);
  // attention is causal: pattern rows sum to 1 and are zero above the diagonal
  const pat = (await cache[hookName.pattern(1)].array()) as number[][][][];
  for (const w of pat[0][0][2]) assert.ok(w >= 0);
  assert.equal(pat[1][3][2][4], 0);
  assert.ok(Math.abs(pat[1][3][2].reduce((a, b) => a + b, 0) - 1) < 1e-5);
  assert.equal(parameterCount(TINY), paramShapes(TINY).reduce((a, [, s]) => a + s.reduce((x, y) => x * y, 1), 0));
  m.dispose();
});

test('hooks replace values: patching a head changes only what it should', async () => {
  await initBackend('wasm');
  const m = GPT2.init(TINY, 4);
  const clean = tokens();
  const corrupt = tf.tensor2d([[1, 5, 9, 2, 7, 3], [4, 9, 8, 1, 0, 6]], [2, 6], 'int32');
  const zName = hookName.z(0);
  const base = m.run(clean, { cache: [zName] });
  const other = m.run(corrupt, { cache: [zName] });
  // replacing with its own cached value is the identity
  const same = m.run(clean, { hooks: { [zName]: patchFrom(base.cache[zName], { heads: [1], positions: [2] }) } });
  assert.ok(maxAbsDiff(await same.logits!.data(), await base.logits!.data()) < 1e-6);
  // patching head 1 at position 3 leaves positions < 3 untouched and changes later ones
  const patched = m.run(clean, { cache: [zName], hooks: { [zName]: patchFrom(other.cache[zName], { heads: [1], positions: [3] }) } });
  const pz = (await patched.cache[zName].array()) as number[][][][];
  const oz = (await other.cache[zName].array()) as number[][][][];
  const bz = (await base.cache[zName].array()) as number[][][][];
  assert.deepEqual(pz[1][3][1], oz[1][3][1]);
  assert.deepEqual(pz[1][3][0], bz[1][3][0]);
  assert.deepEqual(pz[1][2][1], bz[1][2][1]);
  const pl = (await patched.logits!.array()) as number[][][];
  const bl = (await base.logits!.array()) as number[][][];
  assert.ok(maxAbsDiff(pl[1][2], bl[1][2]) < 1e-6, 'earlier positions unchanged');
  assert.ok(maxAbsDiff(pl[1][3], bl[1][3]) > 1e-6, 'the patched position changes');
  m.dispose();
});

test('startLayer/residPre and logitsAt give the same logits as a full pass', async () => {
  await initBackend('wasm');
  const m = GPT2.init(TINY, 5);
  const full = m.run(tokens(), { cache: [hookName.residPre(1)] });
  const resumed = m.run(tokens(), { startLayer: 1, residPre: full.cache[hookName.residPre(1)] as tf.Tensor3D });
  assert.ok(maxAbsDiff(await resumed.logits!.data(), await full.logits!.data()) < 1e-6);
  const end = m.run(tokens(), { logitsAt: [5, 2] });
  const all = (await full.logits!.array()) as number[][][];
  const picked = (await end.logits!.array()) as number[][];
  assert.ok(maxAbsDiff(picked[0], all[0][5]) < 1e-5);
  assert.ok(maxAbsDiff(picked[1], all[1][2]) < 1e-5);
  assert.throws(() => m.run(tokens(), { logitsAt: [9, 0] }), /logitsAt\[0\] = 9/);
  m.dispose();
});

test('safetensors round trip keeps every weight bit-exact', async () => {
  await initBackend('wasm');
  const m = GPT2.init({ ...TINY, tied: false }, 6);
  const arrays = await modelToArrays(m);
  const bytes = serializeSafetensors(arrays, { note: 'x' });
  const { tensors, metadata } = parseSafetensors(bytes);
  assert.equal(metadata.note, 'x');
  const m2 = new GPT2({ ...TINY, tied: false }, paramsFromArrays({ ...TINY, tied: false }, tensors));
  for (const [name] of paramShapes(m.config)) assert.deepEqual(await m2.params[name].data(), await m.params[name].data(), name);
  assert.throws(() => parseSafetensors(bytes.subarray(0, bytes.length - 10), 'cut.safetensors'), /cut\.safetensors: tensor .*truncated/);
  assert.throws(() => paramsFromArrays(TINY, { 'wte.weight': tensors['transformer.wte.weight'] }, 'w.safetensors'), /w\.safetensors: missing tensor 'transformer\.wpe\.weight'/);
  m.dispose();
  m2.dispose();
});

/** Loss and every parameter gradient of a tiny model on one backend, from fixed weights. */
async function lossAndGrads(backend: 'cpu' | 'wasm' | 'tensorflow', arrays: Awaited<ReturnType<typeof modelToArrays>>) {
  await initBackend(backend);
  const m = new GPT2(TINY, paramsFromArrays(TINY, arrays));
  const targets = tf.tensor2d([[5, 9, 2, 7, 3, 1], [4, 8, 1, 0, 6, 2]], [2, 6], 'int32');
  const { value, grads } = tf.variableGrads(() => {
    const logits = m.run(tokens(), {}, true).logits!;
    const logp = tf.logSoftmax(tf.reshape(logits, [-1, TINY.vocab]));
    const onehot = tf.cast(tf.oneHot(tf.reshape(targets, [-1]) as tf.Tensor1D, TINY.vocab), 'float32');
    return tf.neg(tf.mean(tf.sum(tf.mul(logp, onehot), -1))) as tf.Scalar;
  }, m.variables());
  const out: Record<string, Float32Array> = {};
  const vars = m.variables();
  for (const [i, [name]] of paramShapes(TINY).entries()) out[name] = (await grads[vars[i].name].data()) as Float32Array;
  const loss = (await value.data())[0];
  m.dispose();
  return { loss, grads: out };
}

test('gradients on wasm (and native when installed) match the cpu backend', async () => {
  await initBackend('cpu');
  const ref = GPT2.init(TINY, 7);
  const arrays = await modelToArrays(ref);
  ref.dispose();
  const cpu = await lossAndGrads('cpu', arrays);
  const others: ('wasm' | 'tensorflow')[] = ['wasm'];
  if (nativeAvailable()) others.push('tensorflow');
  for (const backend of others) {
    const got = await lossAndGrads(backend, arrays);
    assert.ok(Math.abs(got.loss - cpu.loss) < 1e-5, `${backend} loss ${got.loss} vs cpu ${cpu.loss}`);
    assert.deepEqual(Object.keys(got.grads).sort(), Object.keys(cpu.grads).sort());
    for (const name of Object.keys(cpu.grads)) {
      const d = maxAbsDiff(got.grads[name], cpu.grads[name]);
      assert.ok(d < 1e-5, `${backend} gradient of ${name} differs from cpu by ${d}`);
    }
    // the embedding gradient goes through UnsortedSegmentSum (gather's gradient), which wasm lacks natively
    assert.ok(got.grads['transformer.wte.weight'].some((x) => x !== 0));
  }
});
