// Small seeded PRNG (xoshiro128**) whose whole state is four uint32 numbers, so it can be saved in a
// checkpoint and restored exactly. Used by the IOI data generator and by the training loop.

export type RngState = [number, number, number, number];

const TWO_32 = 4294967296;

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

/** splitmix32 step: a good mixer for turning a seed into well-spread state words. */
function splitmix32(x: number): number {
  x = (x + 0x9e3779b9) >>> 0;
  let z = x;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
  return (z ^ (z >>> 16)) >>> 0;
}

function checkSeed(seed: number, what: string): void {
  if (!Number.isSafeInteger(seed)) throw new Error(`${what}: seed must be a safe integer, got ${seed}`);
}

/** Deterministically derives a new uint32 seed from a seed and a label (e.g. 'abc', 'train'). */
export function deriveSeed(seed: number, label: string): number {
  checkSeed(seed, 'deriveSeed');
  let h = 0x811c9dc5; // FNV-1a over the label, then mixed with both halves of the seed
  for (let i = 0; i < label.length; i++) h = Math.imul(h ^ label.charCodeAt(i), 0x01000193) >>> 0;
  const lo = seed >>> 0;
  const hi = Math.floor(seed / TWO_32) >>> 0;
  return splitmix32(splitmix32(h ^ lo) ^ hi);
}

export class Rng {
  private s: RngState;

  /** Seeds from any safe integer (negative and > 2^32 allowed). */
  constructor(seed: number) {
    checkSeed(seed, 'Rng');
    let x = (seed >>> 0) ^ splitmix32(Math.floor(seed / TWO_32) >>> 0);
    const s: number[] = [];
    for (let i = 0; i < 4; i++) {
      x = splitmix32(x + i);
      s.push(x);
    }
    if (!s.some((w) => w !== 0)) s[0] = 1;
    this.s = s as RngState;
  }

  static fromState(state: readonly number[]): Rng {
    const r = new Rng(0);
    r.setState(state);
    return r;
  }

  getState(): RngState {
    return [...this.s] as RngState;
  }

  setState(state: readonly number[]): void {
    if (!Array.isArray(state) || state.length !== 4 || !state.every((w) => Number.isInteger(w) && w >= 0 && w < TWO_32)) {
      throw new Error(`Rng.setState: expected 4 uint32 numbers, got ${JSON.stringify(state)}`);
    }
    if (state.every((w) => w === 0)) throw new Error('Rng.setState: the all-zero state is invalid for xoshiro128**');
    this.s = [...state] as RngState;
  }

  clone(): Rng {
    return Rng.fromState(this.s);
  }

  /** Next uint32. */
  nextU32(): number {
    const s = this.s;
    const result = Math.imul(rotl(Math.imul(s[1], 5) >>> 0, 7), 9) >>> 0;
    const t = (s[1] << 9) >>> 0;
    s[2] = (s[2] ^ s[0]) >>> 0;
    s[3] = (s[3] ^ s[1]) >>> 0;
    s[1] = (s[1] ^ s[2]) >>> 0;
    s[0] = (s[0] ^ s[3]) >>> 0;
    s[2] = (s[2] ^ t) >>> 0;
    s[3] = rotl(s[3], 11);
    return result;
  }

  /** Uniform float in [0, 1) with 32 bits of randomness. */
  float(): number {
    return this.nextU32() / TWO_32;
  }

  /** Uniform integer in [0, n), unbiased (rejection sampling); 1 <= n <= 2^32. */
  int(n: number): number {
    if (!Number.isInteger(n) || n < 1 || n > TWO_32) throw new Error(`Rng.int: n must be an integer in [1, 2^32], got ${n}`);
    const limit = Math.floor(TWO_32 / n) * n;
    for (;;) {
      const u = this.nextU32();
      if (u < limit) return u % n;
    }
  }

  /** Standard normal sample (Box-Muller; uses two draws, keeps no cached spare so the state stays 4 words). */
  normal(): number {
    const u1 = 1 - this.float(); // (0, 1]
    const u2 = this.float();
    return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('Rng.pick: empty list');
    return items[this.int(items.length)];
  }

  /** Fisher-Yates shuffle in place; returns the same array. */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const tmp = items[i];
      items[i] = items[j];
      items[j] = tmp;
    }
    return items;
  }

  /** A permutation of 0..n-1. */
  permutation(n: number): number[] {
    return this.shuffle(Array.from({ length: n }, (_, i) => i));
  }
}
