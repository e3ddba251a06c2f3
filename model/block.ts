// One transformer block as nanoGPT writes it, x + attn(ln_1(x)) then x + mlp(ln_2(x)), with the TransformerLens
// hook points (hook-names.ts) in the order they fire. Shapes: B batch rows, T positions, H heads, D d_head,
// d d_model; Tq query rows per batch row: T, or 1 in the END-only top block (`only`).
import type { ModelConfig } from './config';
import { tf } from './engine';
import { hookName } from './hook-names';
import { gelu, layerNorm } from './layers';

export interface Affine {
  w: tf.Tensor;
  b: tf.Tensor;
}

/** One block's weights (HF layout: Conv1D weights are [in, out], q/k/v fused in attn). */
export interface BlockWeights {
  ln1: Affine;
  attn: Affine; // [d, 3·H·D]
  proj: Affine; // [H·D, d]
  ln2: Affine;
  fc: Affine; // [d, d_mlp]
  out: Affine; // [d_mlp, d]
}

/** What the block functions need from the run they are part of. */
export interface BlockContext {
  config: ModelConfig;
  /** The run's batch rows and positions (of its tokens). */
  B: number;
  T: number;
  /** Passes a value through a hook point: a hook may replace it (same shape), the run may cache it. */
  hook(name: string, value: tf.Tensor): tf.Tensor;
  /** x·W + b the way this run computes it (training or inference). */
  linear(x: tf.Tensor, w: tf.Tensor, b: tf.Tensor): tf.Tensor;
  /** [T, T] additive causal mask. */
  causalMask(T: number): tf.Tensor2D;
}

/** One position per batch row (e.g. END): flat rows b·T + pos, and the positions. */
export interface RowSelection {
  rows: tf.Tensor1D;
  positions: tf.Tensor1D;
}

/** The selected rows of a [B, T, ...inner] tensor, as [B, 1, ...inner]. */
function atRows(x: tf.Tensor, only: RowSelection, B: number, T: number, inner: number[]): tf.Tensor {
  return tf.reshape(tf.gather(tf.reshape(x, [B * T, ...inner]), only.rows), [B, 1, ...inner]);
}

/** Causal self-attention of x = ln_1(resid) [B, T, d] → [B, Tq, d]. Hooks q, k, v, pattern, z. */
export function attention(ctx: BlockContext, l: number, w: BlockWeights, x: tf.Tensor, only?: RowSelection): tf.Tensor {
  const { B, T } = ctx;
  const { n_head: H, d_head: D } = ctx.config;
  const qkv = ctx.linear(x, w.attn.w, w.attn.b); // [B, T, 3·H·D]
  const [q0, k0, v0] = tf.split(qkv, 3, -1);
  const q = ctx.hook(hookName.q(l), tf.reshape(q0, [B, T, H, D]));
  const k = ctx.hook(hookName.k(l), tf.reshape(k0, [B, T, H, D]));
  const v = ctx.hook(hookName.v(l), tf.reshape(v0, [B, T, H, D]));
  // In the END-only top block the queries (and everything after attention) are one row per prompt.
  const Tq = only ? 1 : T;
  const qRows = only ? atRows(q, only, B, T, [H, D]) : q; // [B, Tq, H, D]
  const qh = tf.transpose(qRows, [0, 2, 1, 3]); // [B, H, Tq, D]
  const khT = tf.transpose(k, [0, 2, 3, 1]); // [B, H, D, T]: explicit transpose keeps matMul flag-free
  const vh = tf.transpose(v, [0, 2, 1, 3]); // [B, H, T, D]
  const mask = only ? tf.reshape(tf.gather(ctx.causalMask(T), only.positions), [B, 1, 1, T]) : ctx.causalMask(T);
  const scores = tf.add(tf.mul(tf.matMul(qh, khT), 1 / Math.sqrt(D)), mask); // [B, H, Tq, T]
  const pattern = ctx.hook(hookName.pattern(l), tf.softmax(scores, -1));
  const z = ctx.hook(hookName.z(l), tf.transpose(tf.matMul(pattern, vh), [0, 2, 1, 3])); // [B, Tq, H, D]
  return ctx.linear(tf.reshape(z, [B, Tq, H * D]), w.proj.w, w.proj.b);
}

/** The MLP of x = ln_2(resid) [B, Tq, d]: gelu(x·W_fc + b) [B, Tq, d_mlp] → [B, Tq, d]. */
export function mlp(ctx: BlockContext, w: BlockWeights, x: tf.Tensor): tf.Tensor {
  const hidden = gelu(ctx.linear(x, w.fc.w, w.fc.b));
  return ctx.linear(hidden, w.out.w, w.out.b);
}

/** Block l on the residual stream [B, T, d] → [B, Tq, d]. Hooks resid_pre, attention's, attn_out, resid_mid, mlp_out, resid_post. */
export function block(ctx: BlockContext, l: number, w: BlockWeights, x: tf.Tensor, only?: RowSelection): tf.Tensor {
  const eps = ctx.config.ln_eps;
  let resid = ctx.hook(hookName.residPre(l), x);
  const attnOut = ctx.hook(hookName.attnOut(l), attention(ctx, l, w, layerNorm(resid, w.ln1.w, w.ln1.b, eps), only));
  if (only) resid = atRows(resid, only, ctx.B, ctx.T, [ctx.config.d_model]); // [B, 1, d]
  resid = ctx.hook(hookName.residMid(l), tf.add(resid, attnOut));
  const mlpOut = ctx.hook(hookName.mlpOut(l), mlp(ctx, w, layerNorm(resid, w.ln2.w, w.ln2.b, eps)));
  return ctx.hook(hookName.residPost(l), tf.add(resid, mlpOut));
}
