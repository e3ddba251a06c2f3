// The layer maths GPT-2 is built from (LayerNorm, linear, gelu_new), each beside the backend speed workaround it
// needs, and the tensors a model derives from its weights for those workarounds.
import { tf, matMul2d, activeBackend } from './engine';

/** LayerNorm over the last axis: (x − mean) / √(var + eps) · w + b. */
export function layerNorm(x: tf.Tensor, w: tf.Tensor, b: tf.Tensor, eps: number): tf.Tensor {
  const mean = tf.mean(x, -1, true);
  const centered = tf.sub(x, mean);
  const variance = tf.mean(tf.square(centered), -1, true);
  return tf.add(tf.mul(tf.mul(centered, tf.rsqrt(tf.add(variance, eps))), w), b);
}

/**
 * gelu_new, 0.5·x·(1 + tanh(u)) with u = √(2/π)·(x + 0.044715·x³), computed as x·sigmoid(2u) (the same function):
 * wasm's Pow and Tanh kernels are scalar loops, Sigmoid is vectorised (6× faster on wasm, 8× on tensorflow).
 */
export function gelu(x: tf.Tensor): tf.Tensor {
  const c = 2 * Math.sqrt(2 / Math.PI);
  return tf.mul(x, tf.sigmoid(tf.mul(x, tf.add(c, tf.mul(c * 0.044715, tf.square(x))))));
}

/** a·W with W held constant: the gradient flows to `a` only, as dy·Wᵀ with Wᵀ given (flag-free: wasm fast path). */
function matMulConstW(a: tf.Tensor2D, w: tf.Tensor2D, wT: tf.Tensor2D): tf.Tensor2D {
  const f = tf.customGrad((x: tf.Tensor | tf.GradSaveFunc) => ({
    value: tf.matMul(x as tf.Tensor2D, w),
    gradFunc: (dy: tf.Tensor) => tf.matMul(dy as tf.Tensor2D, wT),
  }));
  return f(a) as tf.Tensor2D;
}

/**
 * x·W + b over the last axis of x. Training: differentiable w.r.t. both (matMul2d). Inference: W is a constant; the
 * plain matMul when no gradient is being recorded, and on wasm under a gradient tape (gradients w.r.t. activations,
 * e.g. attribution patching) a matMul whose only gradient is dy·Wᵀ (explicit transpose, flag-free): no wasted
 * weight gradient.
 */
export function linear(x: tf.Tensor, w: tf.Tensor, b: tf.Tensor, training: boolean, derived: DerivedTensors): tf.Tensor {
  const shape = x.shape;
  const flat = tf.reshape(x, [-1, shape[shape.length - 1]]) as tf.Tensor2D;
  const w2 = w as tf.Tensor2D;
  let xw: tf.Tensor2D;
  if (training) xw = matMul2d(flat, w2);
  else if (activeBackend() === 'wasm' && tf.engine().state.gradientDepth > 0) xw = matMulConstW(flat, w2, derived.transposed(w2));
  else xw = tf.matMul(flat, w2);
  return tf.reshape(tf.add(xw, b), [...shape.slice(0, -1), w.shape[1] as number]);
}

/** A second tensor on `t`'s data (its own reference, no copy) that the gradient tape does not connect to `t`. */
export function untracked(t: tf.Tensor): tf.Tensor {
  const alias = tf.engine().makeTensorFromDataId(t.dataId, t.shape, t.dtype);
  tf.backend().incRef(t.dataId); // the engine counts the new tensor; the backend must keep the data for both
  return alias;
}

/** Tensors a model keeps across runs: Wᵀ of weights (wasm has no fast transposed matmul) and causal masks. */
export class DerivedTensors {
  private readonly transposes = new Map<tf.Tensor, tf.Tensor2D>();
  private readonly masks = new Map<number, tf.Tensor2D>();

  /** Wᵀ, cached until weightsChanged(). */
  transposed(w: tf.Tensor2D): tf.Tensor2D {
    let t = this.transposes.get(w);
    if (!t) {
      t = tf.keep(tf.transpose(w));
      this.transposes.set(w, t);
    }
    return t;
  }

  /** [T, T] additive causal mask: 0 on and below the diagonal, −1e9 above. */
  causalMask(T: number): tf.Tensor2D {
    let m = this.masks.get(T);
    if (!m) {
      const vals = new Float32Array(T * T);
      for (let i = 0; i < T; i++) for (let j = i + 1; j < T; j++) vals[i * T + j] = -1e9;
      m = tf.keep(tf.tensor2d(vals, [T, T]));
      this.masks.set(T, m);
    }
    return m;
  }

  /** Drops the transposes (call after weights change in place). */
  weightsChanged(): void {
    for (const t of this.transposes.values()) t.dispose();
    this.transposes.clear();
  }

  dispose(): void {
    this.weightsChanged();
    for (const m of this.masks.values()) m.dispose();
    this.masks.clear();
  }
}
