// Bootstrap intervals over prompts: a constant has a zero-width interval; a mean's 95 % interval has about the
// normal-theory width; resampling is seeded.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { bootstrapInterval } from '../../tracing/compare';
import { Rng } from '../../ioi/rng';

const mean = (xs: number[], idx: Int32Array | null) => (idx ? Array.from(idx, (i) => xs[i]) : xs).reduce((a, x) => a + x, 0) / (idx ? idx.length : xs.length);

test('bootstrap intervals of a mean over prompts', () => {
  const flat = new Array(50).fill(2.5);
  assert.deepEqual(bootstrapInterval(50, (i) => mean(flat, i)), { value: 2.5, lo: 2.5, hi: 2.5 });

  const rng = new Rng(7);
  const xs = Array.from({ length: 400 }, () => 1 + rng.normal());
  const iv = bootstrapInterval(xs.length, (i) => mean(xs, i));
  const m = mean(xs, null);
  const sd = Math.sqrt(xs.reduce((a, x) => a + (x - m) ** 2, 0) / (xs.length - 1));
  const normalWidth = 2 * 1.96 * (sd / Math.sqrt(xs.length));
  assert.ok(iv.lo < m && m < iv.hi);
  assert.ok(Math.abs(iv.hi - iv.lo - normalWidth) < 0.15 * normalWidth, `width ${iv.hi - iv.lo} vs ${normalWidth}`);
  assert.deepEqual(bootstrapInterval(xs.length, (i) => mean(xs, i)), iv, 'seeded');
});
