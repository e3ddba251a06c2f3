// Golden test: our loader + forward against logits computed by Hugging Face transformers (scripts/golden/).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { initBackend, tf } from '../../model/engine';
import { loadHfFolder } from '../../model/hf';

const FIXTURES = path.resolve(__dirname, '..', '..', '..', 'test', 'fixtures');

interface Golden {
  sequences: number[][];
  logits_file: string;
  logits_index: { offset: number; shape: [number, number] }[];
}

for (const variant of ['tiny-gpt2', 'tiny-gpt2-untied']) {
  for (const backend of ['wasm', 'cpu'] as const) {
    test(`${variant} on ${backend}: logits match HF transformers within 1e-4`, async () => {
      await initBackend(backend);
      const dir = path.join(FIXTURES, variant);
      const golden = JSON.parse(fs.readFileSync(path.join(dir, 'golden.json'), 'utf8')) as Golden;
      const bin = fs.readFileSync(path.join(dir, golden.logits_file));
      const ref = new Float32Array(bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength));
      const model = loadHfFolder(dir);
      assert.equal(model.config.tied, variant === 'tiny-gpt2');
      golden.sequences.forEach((seq, i) => {
        const { offset, shape } = golden.logits_index[i];
        const got = tf.tidy(() => model.run(tf.tensor2d([seq], [1, seq.length], 'int32')).logits!.dataSync());
        assert.equal(got.length, shape[0] * shape[1]);
        let worst = 0;
        for (let j = 0; j < got.length; j++) worst = Math.max(worst, Math.abs(got[j] - ref[offset + j]));
        assert.ok(worst < 1e-4, `sequence ${i} (T=${seq.length}): max |Δlogit| = ${worst}`);
      });
      model.dispose();
    });
  }
}
