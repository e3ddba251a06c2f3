// The wasm SIMD Adam kernel: what train/adam.wat compiles to, and bit-identical to the JS loop.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { adamUpdate, WasmAdam, type AdamHyper } from '../../train/adam-kernel';

const root = path.join(__dirname, '..', '..', '..');

test('train/adam-wasm.ts holds what train/adam.wat compiles to', async () => {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { compileAdamWat, tsModule } = require(path.join(root, 'scripts', 'build-adam-wasm.js')) as {
    compileAdamWat(): Promise<Buffer>;
    tsModule(b: Buffer): string;
  };
  assert.equal(fs.readFileSync(path.join(root, 'train', 'adam-wasm.ts'), 'utf8'), tsModule(await compileAdamWat()), 'run npm run build:wasm');
});

function lcg(seed: number): () => number {
  let x = seed >>> 0;
  return () => ((x = (x * 1664525 + 1013904223) >>> 0) / 2 ** 32 - 0.5);
}

test('the wasm kernel gives the JS loop bit for bit over several steps, odd sizes, gradient scales and the two-thread split included', () => {
  const sizes = [1, 2, 7, 64, 1001, 70_001]; // the last is split with the helper thread
  const kernel = WasmAdam.create(sizes);
  assert.ok(kernel, 'wasm SIMD is available on Node 20');
  const m = sizes.map((n) => new Float32Array(n));
  const v = sizes.map((n) => new Float32Array(n));
  const rand = lcg(7);
  for (let t = 1; t <= 5; t++) {
    const h: AdamHyper = { b1: 0.9, b2: 0.999, vScale: 1 / Math.sqrt(1 - 0.999 ** t), eps: 1e-8, stepSize: 3e-3 / (1 - 0.9 ** t), gradScale: t % 2 ? 1 : 0.37 };
    sizes.forEach((n, i) => {
      const g = Float32Array.from({ length: n }, () => rand() * (i + 1) * 10 ** ((t % 3) - 2));
      const jsStep = g.slice();
      adamUpdate(jsStep, m[i], v[i], h);
      const wasmStep = kernel!.update(i, g, h);
      assert.deepEqual(Buffer.from(wasmStep.buffer, wasmStep.byteOffset, n * 4), Buffer.from(jsStep.buffer, 0, n * 4), `step of parameter ${i} at t=${t}`);
      assert.deepEqual(Buffer.from(kernel!.m[i].buffer, kernel!.m[i].byteOffset, n * 4), Buffer.from(m[i].buffer), `m of parameter ${i}`);
      assert.deepEqual(Buffer.from(kernel!.v[i].buffer, kernel!.v[i].byteOffset, n * 4), Buffer.from(v[i].buffer), `v of parameter ${i}`);
    });
  }
  assert.ok(m[5].some((x) => x !== 0) && v[5].some((x) => x !== 0), 'the moments moved');
  kernel!.dispose();
});

test('moments too large for one wasm memory fall back to the JS loop', () => {
  assert.equal(WasmAdam.create([600_000_000]), undefined); // 2 × 2.4 GB + 2.4 GB scratch > 4 GB
});
