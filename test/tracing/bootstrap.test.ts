// Bootstrap intervals over prompts: a constant has a zero-width interval; a mean's 95 % interval has about the
// normal-theory width; resampling is seeded; a known distribution's mean is covered and the width shrinks as 1/√n.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { bootstrapInterval, bootstrapIntervals } from '../../tracing/compare';
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

test('bootstrap intervals of a known distribution: cover the true mean, narrow with more prompts, repeat under a seed', () => {
  const draw = (n: number, seed: number) => {
    const rng = new Rng(seed);
    return Array.from({ length: n }, () => 3 + 2 * rng.normal()); // true mean 3, sd 2
  };
  const width = (iv: { lo: number; hi: number }) => iv.hi - iv.lo;
  let covered = 0;
  for (let seed = 1; seed <= 20; seed++) {
    const xs = draw(100, seed);
    const iv = bootstrapInterval(xs.length, (i) => mean(xs, i), 500);
    if (iv.lo <= 3 && 3 <= iv.hi) covered++;
  }
  assert.ok(covered >= 16, `the true mean is inside ${covered} of 20 95 % intervals`);
  const small = draw(100, 31);
  const big = draw(1600, 31);
  const wSmall = width(bootstrapInterval(small.length, (i) => mean(small, i)));
  const wBig = width(bootstrapInterval(big.length, (i) => mean(big, i)));
  assert.ok(wBig < wSmall / 3 && wBig > wSmall / 5.5, `16× the prompts: about a quarter of the width (${wSmall} → ${wBig})`);
  const seeded = (seed: number) => bootstrapInterval(small.length, (i) => mean(small, i), 1000, seed);
  assert.deepEqual(seeded(9), seeded(9), 'the same seed gives the same interval');
  assert.notDeepEqual(seeded(9), seeded(10), 'another seed resamples differently');
});

test('bootstrapIntervals: several statistics from the same resamples equal separate seeded intervals', () => {
  const rng = new Rng(3);
  const a = Array.from({ length: 60 }, () => rng.normal());
  const b = Array.from({ length: 60 }, () => 2 + rng.normal());
  const joint = bootstrapIntervals(60, (i) => [mean(a, i), mean(b, i), mean(b, i) - mean(a, i)]);
  assert.deepEqual(joint, [
    bootstrapInterval(60, (i) => mean(a, i)),
    bootstrapInterval(60, (i) => mean(b, i)),
    bootstrapInterval(60, (i) => mean(b, i) - mean(a, i)),
  ]);
  // non-finite resample values are left out of that statistic only
  const [finite, none] = bootstrapIntervals(60, (i) => [mean(a, i), NaN]);
  assert.deepEqual(finite, joint[0]);
  assert.ok(Number.isNaN(none.lo) && Number.isNaN(none.hi));
});
