// Patching: replace a hook's value with another run's where a 0/1 mask is 1. mixMasked is the one rule every patch
// uses (the batched engine in tracing/batched.ts included); patchFrom builds a hook from heads and positions.
import { tf } from './engine';
import { HookFn } from './gpt2';

export interface PatchWhere {
  heads?: number[]; // for [B, T, H, D] hooks (q, k, v, z); omitted = all heads
  positions?: number[]; // omitted = all positions
}

/** A [1, T, H, 1] (or [1, T, 1]) 0/1 mask selecting the given positions and heads. */
export function patchMask(shape: number[], where: PatchWhere): tf.Tensor {
  const T = shape[1];
  const perHead = shape.length === 4;
  const H = perHead ? shape[2] : 1;
  if (where.heads && !perHead) throw new Error(`patch: heads given for a hook of shape [${shape}] without a head axis`);
  const vals = new Float32Array(T * H);
  const positions = where.positions ?? [...Array(T).keys()];
  const heads = where.heads ?? [...Array(H).keys()];
  for (const p of positions) {
    if (p < 0 || p >= T) throw new Error(`patch: position ${p} is outside [0, ${T})`);
    for (const h of heads) {
      if (h < 0 || h >= H) throw new Error(`patch: head ${h} is outside [0, ${H})`);
      vals[p * H + h] = 1;
    }
  }
  return perHead ? tf.tensor4d(vals, [1, T, H, 1]) : tf.tensor3d(vals, [1, T, 1]);
}

/**
 * value·(1 − m) + source·m for a 0/1 mask m (broadcast over value): copies both sides bit-exactly (x·1 = x, x·0 = 0),
 * where value + (source − value)·m would round.
 */
export function mixMasked(value: tf.Tensor, source: tf.Tensor, mask: tf.Tensor): tf.Tensor {
  return tf.add(tf.mul(value, tf.sub(1, mask)), tf.mul(source, mask));
}

/** Hook that takes `source`'s values where selected and keeps the running value elsewhere. */
export function patchFrom(source: tf.Tensor, where: PatchWhere = {}): HookFn {
  return (value) => {
    if (source.shape.join(',') !== value.shape.join(',')) {
      throw new Error(`patch: source has shape [${source.shape}], hook value has [${value.shape}]`);
    }
    if (!where.heads && !where.positions) return source;
    return mixMasked(value, source, patchMask(value.shape, where));
  };
}
