// Golden: our activation patching (noising) on the tiny HF GPT-2 fixture equals the plain-transformers-hooks
// reference in test/fixtures/tiny-gpt2/patching.json (scripts/golden/patching_reference.py) within 1e-4.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { initBackend, tf } from '../../model/engine';
import { loadHfFolder } from '../../model/hf';
import { ActivationTarget, activationPatching } from '../../tracing/activation';
import { FIXTURES, PatchingReference, readReference, referenceBatch } from './fixture';
import { assertClose } from './patching-helpers';

type Reference = PatchingReference & { resid_pre: number[][]; attn_out: number[][]; mlp_out: number[][]; diff_positions: number[] };

const TARGETS: [ActivationTarget, keyof Reference][] = [
  ['head_z', 'head_all_pos'], ['head_z_pos', 'head_per_pos'], ['resid_pre', 'resid_pre'], ['attn_out', 'attn_out'], ['mlp_out', 'mlp_out'],
];

for (const backend of ['wasm', 'cpu'] as const) {
  test(`tiny-gpt2 on ${backend}: activation patching equals the transformers-hooks reference within 1e-4`, async () => {
    await initBackend(backend);
    const ref = readReference() as Reference;
    const model = loadHfFolder(path.join(FIXTURES, 'tiny-gpt2'));
    const batch = referenceBatch(ref);
    try {
      await activationPatching(model, batch, { target: 'head_z' }); // warm: the model caches its causal mask
      const before = tf.memory().numTensors;
      // cpu is ~50x slower: it checks the all-position head and residual maps only
      for (const [target, key] of backend === 'cpu' ? TARGETS.filter(([t]) => t === 'head_z' || t === 'resid_pre') : TARGETS) {
        const r = await activationPatching(model, batch, { target, direction: 'noising' });
        const expected = (ref[key] as number[][]).flat(2) as number[];
        assert.equal(r.patched.values.length, expected.length, `${target}: number of scores`);
        assertClose(r.patched.values, expected, 1e-4, `${target} patched LD`);
        assert.ok(Math.abs(r.clean - ref.clean_ld_mean) < 1e-4 && Math.abs(r.corrupt - ref.corrupt_ld_mean) < 1e-4, `${target}: baselines`);
        const norm = expected.map((v) => (v - ref.corrupt_ld_mean) / (ref.clean_ld_mean - ref.corrupt_ld_mean));
        assertClose(r.normalised.values, norm, 1e-3, `${target} normalised`);
        assert.equal(r.normalised.metric.normalised, '(patched − corrupt)/(clean − corrupt)');
        assert.deepEqual(r.patched.axes, target === 'head_z' ? ['layer', 'head'] : target === 'head_z_pos' ? ['layer', 'head', 'position'] : ['layer', 'position']);
      }
      // Properties the reference README lists: where prefixes agree, per-position patches change nothing.
      const perPos = await activationPatching(model, batch, { target: 'head_z_pos', layers: backend === 'cpu' ? [0] : undefined });
      for (let l = 0; l < perPos.patched.shape[0]; l++) for (let h = 0; h < ref.n_head; h++) for (const p of [0, 1]) {
        assert.equal(perPos.patched.values[(l * ref.n_head + h) * ref.seq_len + p], Math.fround(perPos.clean), `head ${l}.${h} at ${p}`);
      }
      assert.ok(perPos.stats.skipped >= perPos.patched.shape[0] * ref.n_head * 2, 'unchanged patches are answered without a pass');
      assert.equal(tf.memory().numTensors, before, 'no tensors leak');
    } finally {
      model.dispose();
    }
  });
}
