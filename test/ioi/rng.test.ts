import { test } from 'node:test';
import assert from 'node:assert/strict';
import { deriveSeed, Rng } from '../../ioi/rng';

const draw = (r: Rng, n: number) => Array.from({ length: n }, () => r.nextU32());

test('same seed gives the same stream, different seeds differ', () => {
  assert.deepEqual(draw(new Rng(42), 50), draw(new Rng(42), 50));
  assert.notDeepEqual(draw(new Rng(42), 50), draw(new Rng(43), 50));
  assert.notDeepEqual(draw(new Rng(-1), 10), draw(new Rng(2 ** 32 - 1), 10));
  assert.notDeepEqual(draw(new Rng(1), 10), draw(new Rng(1 + 2 ** 32), 10));
});

test('state round-trips through JSON and continues the same stream', () => {
  const r = new Rng(7);
  draw(r, 13);
  const saved = JSON.parse(JSON.stringify(r.getState()));
  const expected = draw(r, 20);
  assert.deepEqual(draw(Rng.fromState(saved), 20), expected);
  const c = Rng.fromState(saved);
  const cl = c.clone();
  assert.deepEqual(draw(c, 5), draw(cl, 5));
});

test('invalid states are rejected with the expected shape in the message', () => {
  assert.throws(() => Rng.fromState([0, 0, 0, 0]), /all-zero/);
  assert.throws(() => Rng.fromState([1, 2, 3]), /4 uint32/);
  assert.throws(() => Rng.fromState([1, 2, 3, 2 ** 32]), /4 uint32/);
  assert.throws(() => new Rng(1.5), /safe integer/);
});

test('int is in range and roughly uniform; float in [0,1)', () => {
  const r = new Rng(3);
  const counts = new Array(7).fill(0);
  const N = 70000;
  for (let i = 0; i < N; i++) counts[r.int(7)]++;
  for (const c of counts) assert.ok(Math.abs(c - N / 7) < 0.05 * (N / 7), `count ${c} far from ${N / 7}`);
  for (let i = 0; i < 1000; i++) {
    const f = r.float();
    assert.ok(f >= 0 && f < 1);
  }
  assert.throws(() => r.int(0), /n must be/);
  let sum = 0;
  let sq = 0;
  for (let i = 0; i < 20000; i++) {
    const z = r.normal();
    sum += z;
    sq += z * z;
  }
  assert.ok(Math.abs(sum / 20000) < 0.05 && Math.abs(sq / 20000 - 1) < 0.05);
});

test('shuffle is a permutation and deriveSeed depends on seed and label', () => {
  const p = new Rng(9).permutation(100);
  assert.deepEqual([...p].sort((a, b) => a - b), Array.from({ length: 100 }, (_, i) => i));
  assert.notDeepEqual(p, Array.from({ length: 100 }, (_, i) => i));
  assert.equal(deriveSeed(5, 'abc'), deriveSeed(5, 'abc'));
  assert.notEqual(deriveSeed(5, 'abc'), deriveSeed(5, 'abd'));
  assert.notEqual(deriveSeed(5, 'abc'), deriveSeed(6, 'abc'));
});
