// Adam / AdamW written out explicitly (moments as float32 arrays, a step count), global-norm clipping and learning
// rate schedules. State exports as float32 arrays in paramShapes order so a checkpoint restores it exactly.
import { activeBackend, tf } from '../model/engine';
import { adamUpdate, WasmAdam } from './adam-kernel';
import type { TrainConfig } from './config';

export interface AdamOptions {
  betas: readonly [number, number];
  eps: number;
  weightDecay: number;
  decoupled: boolean; // true: AdamW (decay applied to weights); false: Adam with L2 added to the gradient
  /** 'auto' (default): the wasm SIMD kernel where the moments fit it, else the JS loop; both give identical results. */
  kernel?: 'auto' | 'js';
}

export interface OptimizerState {
  step: number; // updates applied so far
  m: Float32Array[]; // first moments, one per parameter (paramShapes order)
  v: Float32Array[]; // second moments
}

/** Weight decay applies to matrices (embeddings, projections), not to biases or LayerNorm gains (rank 1). */
const decays = (v: tf.Variable) => v.rank >= 2;

/**
 * Adam(W) with the moments in float32 arrays (one wasm memory when they fit) and one fused update per parameter
 * (train/adam-kernel.ts): reading the gradient once, writing the moments in place and the new weights once. A chain
 * of ~15 tfjs element-wise ops per parameter made a full-size temporary each (124 M floats apiece at GPT-2 small:
 * seconds per step and ~7 GB of transient memory).
 * The update runs in float64 arithmetic with float32 storage, identically on every backend.
 */
export class Adam {
  private readonly vars: tf.Variable[];
  private readonly m: Float32Array[];
  private readonly v: Float32Array[];
  private t = 0;
  private readonly kernel: WasmAdam | undefined;

  /** `state` (e.g. read from a checkpoint) is copied into the kernel's memory, or adopted by the JS loop. */
  constructor(vars: tf.Variable[], readonly opts: AdamOptions, state?: OptimizerState) {
    this.vars = vars;
    if (state) checkState(state, vars);
    this.t = state?.step ?? 0;
    this.kernel = opts.kernel === 'js' ? undefined : WasmAdam.create(vars.map((p) => p.size));
    if (this.kernel) {
      this.m = this.kernel.m;
      this.v = this.kernel.v;
      state?.m.forEach((a, i) => this.m[i].set(a));
      state?.v.forEach((a, i) => this.v[i].set(a));
    } else {
      this.m = state?.m ?? vars.map((p) => new Float32Array(p.size));
      this.v = state?.v ?? vars.map((p) => new Float32Array(p.size));
    }
  }

  static fromTrainConfig(vars: tf.Variable[], cfg: TrainConfig, state?: OptimizerState): Adam {
    return new Adam(vars, { betas: cfg.betas, eps: cfg.eps, weightDecay: cfg.weight_decay, decoupled: cfg.optimizer === 'adamw' }, state);
  }

  get step(): number {
    return this.t;
  }

  /**
   * One update with gradients in variable order, at learning rate `lr`, each gradient multiplied by `gradScale`
   * first (global-norm clipping). `release` disposes each gradient tensor once read, so gradients do not outlive their
   * update; a gradient given as a Float32Array is taken over (overwritten).
   */
  apply(grads: (tf.Tensor | Float32Array)[], lr: number, gradScale = 1, release = false): void {
    if (grads.length !== this.vars.length) throw new Error(`Adam.apply: ${grads.length} gradients for ${this.vars.length} variables`);
    this.t += 1;
    const [b1, b2] = this.opts.betas;
    const { eps, weightDecay, decoupled } = this.opts;
    const stepSize = lr / (1 - b1 ** this.t);
    const vScale = 1 / Math.sqrt(1 - b2 ** this.t);
    const ownsCopy = activeBackend() !== 'cpu'; // dataSync hands out a private copy (on cpu: the tensor's own storage)
    this.vars.forEach((p, i) => {
      const decay = weightDecay > 0 && decays(p) ? weightDecay : 0;
      const gi = grads[i];
      let g: Float32Array;
      if (gi instanceof Float32Array) g = gi; // values handed over: updated in place into the step
      else {
        const read = gi.dataSync() as Float32Array;
        g = ownsCopy ? read : read.slice();
        if (release) gi.dispose();
      }
      let scale = gradScale;
      if (decay && !decoupled) {
        const w = p.dataSync() as Float32Array;
        for (let j = 0; j < g.length; j++) g[j] = g[j] * gradScale + decay * w[j];
        scale = 1;
      }
      const hyper = { b1, b2, vScale, eps, stepSize, gradScale: scale };
      let step = g;
      if (this.kernel) step = this.kernel.update(i, g, hyper);
      else adamUpdate(g, this.m[i], this.v[i], hyper);
      const shrink = decoupled ? lr * decay : 0;
      tf.tidy(() => {
        const stepT = tf.tensor(step, p.shape, 'float32'); // read before the next update reuses the kernel's step buffer
        p.assign(tf.sub(shrink ? tf.mul(p, 1 - shrink) : p, stepT));
      });
    });
  }

  /** The state as copies (a snapshot that later updates do not change). */
  async exportState(): Promise<OptimizerState> {
    return { step: this.t, m: this.m.map((x) => x.slice()), v: this.v.map((x) => x.slice()) };
  }

  /** The live state without copying: valid until the next apply() (checkpoints written between steps). */
  stateView(): OptimizerState {
    return { step: this.t, m: this.m, v: this.v };
  }

  /** Stops the kernel's helper thread (nothing is held in tfjs). */
  dispose(): void {
    this.kernel?.dispose();
  }
}

function checkState(state: OptimizerState, vars: tf.Variable[]): void {
  if (!Number.isInteger(state.step) || state.step < 0) throw new Error(`optimizer state: step must be a non-negative integer, got ${state.step}`);
  for (const [key, list] of [['m', state.m], ['v', state.v]] as const) {
    if (list.length !== vars.length) throw new Error(`optimizer state: ${key} has ${list.length} arrays, expected ${vars.length}`);
    list.forEach((a, i) => {
      if (a.length !== vars[i].size) throw new Error(`optimizer state: ${key}[${i}] has ${a.length} values, expected ${vars[i].size} (shape [${vars[i].shape}])`);
    });
  }
}

/** Global L2 norm of gradients: per-tensor sums of squares in tfjs (vectorised, one temporary at a time), summed in float64. */
export function globalNorm(grads: tf.Tensor[]): number {
  const sums = grads.map((g) => tf.tidy(() => tf.sum(tf.square(g))));
  const total = sums.reduce((acc, t) => acc + t.dataSync()[0], 0);
  for (const t of sums) t.dispose();
  return Math.sqrt(total);
}

/** The factor global-norm clipping multiplies every gradient by (1 below the limit). */
export const clipScale = (norm: number, maxNorm: number | null): number => (maxNorm === null ? 1 : maxNorm / Math.max(norm, maxNorm));

/**
 * Scales gradients so their global L2 norm is at most `maxNorm` (no-op below it). Returns the new gradients
 * and the pre-clip norm as a scalar tensor; the caller owns both.
 */
export function clipByGlobalNorm(grads: tf.Tensor[], maxNorm: number | null): { grads: tf.Tensor[]; norm: tf.Scalar } {
  return tf.tidy(() => {
    const norm = tf.sqrt(tf.addN(grads.map((g) => tf.sum(tf.square(g))))) as tf.Scalar;
    if (maxNorm === null) return { grads: grads.map((g) => tf.clone(g)), norm };
    const scale = tf.div(maxNorm, tf.maximum(norm, maxNorm));
    return { grads: grads.map((g) => tf.mul(g, scale)), norm };
  });
}

export interface ScheduleOptions {
  lr: number;
  schedule: 'constant' | 'linear' | 'cosine';
  warmup: number;
  min_lr_ratio: number;
}

/** Learning rate of update number `step` (0-based) out of `total`: linear warmup, then constant/linear/cosine decay. */
export function lrAt(step: number, total: number, s: ScheduleOptions): number {
  if (s.warmup > 0 && step < s.warmup) return (s.lr * (step + 1)) / s.warmup;
  if (s.schedule === 'constant') return s.lr;
  const span = Math.max(1, total - s.warmup);
  const p = Math.min(1, Math.max(0, (step - s.warmup) / span));
  const shape = s.schedule === 'linear' ? 1 - p : 0.5 * (1 + Math.cos(Math.PI * p));
  return s.lr * (s.min_lr_ratio + (1 - s.min_lr_ratio) * shape);
}
