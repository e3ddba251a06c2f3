// Adam / AdamW written out explicitly (moments as tf variables, a step count), global-norm clipping and learning
// rate schedules. State exports as float32 arrays in paramShapes order so a checkpoint restores it exactly.
import { tf } from '../model/engine';
import type { TrainConfig } from './config';

export interface AdamOptions {
  betas: readonly [number, number];
  eps: number;
  weightDecay: number;
  decoupled: boolean; // true: AdamW (decay applied to weights); false: Adam with L2 added to the gradient
}

export interface OptimizerState {
  step: number; // updates applied so far
  m: Float32Array[]; // first moments, one per parameter (paramShapes order)
  v: Float32Array[]; // second moments
}

/** Weight decay applies to matrices (embeddings, projections), not to biases or LayerNorm gains (rank 1). */
const decays = (v: tf.Variable) => v.rank >= 2;

/** A non-trainable variable holding `init` (which is disposed: tf.variable keeps its own reference to the data). */
function slot(init: tf.Tensor): tf.Variable {
  const v = tf.variable(init, false);
  init.dispose();
  return v;
}

export class Adam {
  private readonly vars: tf.Variable[];
  private readonly m: tf.Variable[];
  private readonly v: tf.Variable[];
  private t = 0;

  constructor(vars: tf.Variable[], readonly opts: AdamOptions, state?: OptimizerState) {
    this.vars = vars;
    if (state) {
      checkState(state, vars);
      this.t = state.step;
      this.m = vars.map((p, i) => slot(tf.tensor(state.m[i], p.shape, 'float32')));
      this.v = vars.map((p, i) => slot(tf.tensor(state.v[i], p.shape, 'float32')));
    } else {
      this.m = vars.map((p) => slot(tf.zerosLike(p)));
      this.v = vars.map((p) => slot(tf.zerosLike(p)));
    }
  }

  static fromTrainConfig(vars: tf.Variable[], cfg: TrainConfig, state?: OptimizerState): Adam {
    return new Adam(vars, { betas: cfg.betas, eps: cfg.eps, weightDecay: cfg.weight_decay, decoupled: cfg.optimizer === 'adamw' }, state);
  }

  get step(): number {
    return this.t;
  }

  /** One update with gradients in variable order, at learning rate `lr`. */
  apply(grads: tf.Tensor[], lr: number): void {
    if (grads.length !== this.vars.length) throw new Error(`Adam.apply: ${grads.length} gradients for ${this.vars.length} variables`);
    this.t += 1;
    const [b1, b2] = this.opts.betas;
    const { eps, weightDecay, decoupled } = this.opts;
    const stepSize = lr / (1 - b1 ** this.t);
    const vScale = 1 / Math.sqrt(1 - b2 ** this.t);
    tf.tidy(() => {
      this.vars.forEach((p, i) => {
        let g = grads[i];
        const decay = weightDecay > 0 && decays(p);
        if (decay && !decoupled) g = tf.add(g, tf.mul(p, weightDecay));
        const m = tf.add(tf.mul(this.m[i], b1), tf.mul(g, 1 - b1));
        const v = tf.add(tf.mul(this.v[i], b2), tf.mul(tf.square(g), 1 - b2));
        this.m[i].assign(m);
        this.v[i].assign(v);
        let next = tf.sub(p, tf.mul(tf.div(m, tf.add(tf.mul(tf.sqrt(v), vScale), eps)), stepSize));
        if (decay && decoupled) next = tf.sub(next, tf.mul(p, lr * weightDecay));
        p.assign(next);
      });
    });
  }

  async exportState(): Promise<OptimizerState> {
    const m = await Promise.all(this.m.map(async (x) => Float32Array.from((await x.data()) as Float32Array)));
    const v = await Promise.all(this.v.map(async (x) => Float32Array.from((await x.data()) as Float32Array)));
    return { step: this.t, m, v };
  }

  dispose(): void {
    for (const x of [...this.m, ...this.v]) x.dispose();
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
