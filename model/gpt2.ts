// A GPT-2-style decoder in tfjs-core ops, with TransformerLens-named hook points for caching and patching.
// Parameters use Hugging Face GPT-2 names and layouts (Conv1D weights are [in, out]; qkv fused).
import { tf, matMul2d, activeBackend } from './engine';
import { ModelConfig, validateModelConfig } from './config';
import { HOOK_EMBED, HOOK_LN_FINAL, HOOK_POS_EMBED, hookName } from './hook-names';
import { DeterministicError } from '../errors/deterministic';

/** Replaces (returns a tensor) or observes (returns void) the value at a hook point. */
export type HookFn = (value: tf.Tensor, name: string) => tf.Tensor | void;

export interface RunOptions {
  /** Hook names whose (post-hook) values are returned in `cache`. */
  cache?: Iterable<string> | ((name: string) => boolean);
  /** Hook functions by hook name. */
  hooks?: Record<string, HookFn>;
  /** Start at this block with `residPre` as its residual input; lower layers are not recomputed. */
  startLayer?: number;
  residPre?: tf.Tensor3D;
  /**
   * Stop after block endLayer − 1 (default n_layer). Below n_layer there is no final LayerNorm and no logits: read
   * the residual by caching `blocks.{endLayer − 1}.hook_resid_post`.
   */
  endLayer?: number;
  /**
   * One position per batch row (e.g. END): the last block computes its queries, attention output, MLP and the final
   * LayerNorm only at these rows (keys and values at every position), since nothing else reaches those logits. Its
   * hooks then see q/k/v as [B, T, H, D], pattern [B, H, 1, T], z [B, 1, H, D], attn_out/resid_mid/mlp_out/resid_post
   * and ln_final [B, 1, d]. logitsAt must be 'none' or the same positions.
   */
  lastBlockRows?: Int32Array | number[];
  /**
   * Which positions to unembed: 'all' → logits [B, T, V]; 'none' → no logits; an Int32Array of one position per
   * batch row → logits [B, V] (e.g. the END position, where patching reads its metric).
   */
  logitsAt?: 'all' | 'none' | Int32Array | number[];
  /**
   * Training with a sparse embedding gradient: [B·T, d] (zeros) added to the token embeddings, while the lookup in
   * W_E is cut from the gradient tape. The gradient w.r.t. these rows is then W_E's gather gradient as rows, which
   * the caller scatter-adds, instead of a dense [vocab, d] tensor (and its sum with the tied unembedding's gradient).
   */
  embedRows?: tf.Tensor2D;
}

export interface RunResult {
  logits?: tf.Tensor;
  cache: Record<string, tf.Tensor>;
}

export type Params = Record<string, tf.Variable>;

/** HF parameter names of one block. */
export const blockParamNames = (l: number) => ({
  ln1w: `transformer.h.${l}.ln_1.weight`, ln1b: `transformer.h.${l}.ln_1.bias`,
  attnW: `transformer.h.${l}.attn.c_attn.weight`, attnB: `transformer.h.${l}.attn.c_attn.bias`,
  projW: `transformer.h.${l}.attn.c_proj.weight`, projB: `transformer.h.${l}.attn.c_proj.bias`,
  ln2w: `transformer.h.${l}.ln_2.weight`, ln2b: `transformer.h.${l}.ln_2.bias`,
  fcW: `transformer.h.${l}.mlp.c_fc.weight`, fcB: `transformer.h.${l}.mlp.c_fc.bias`,
  outW: `transformer.h.${l}.mlp.c_proj.weight`, outB: `transformer.h.${l}.mlp.c_proj.bias`,
});
export const WTE = 'transformer.wte.weight';
export const WPE = 'transformer.wpe.weight';
export const LNF_W = 'transformer.ln_f.weight';
export const LNF_B = 'transformer.ln_f.bias';
export const LM_HEAD = 'lm_head.weight';

/** Shapes of every parameter, in a stable order (the order used by optimizers and checkpoints). */
export function paramShapes(c: ModelConfig): [string, number[]][] {
  const hd = c.n_head * c.d_head;
  const out: [string, number[]][] = [[WTE, [c.vocab, c.d_model]], [WPE, [c.n_ctx, c.d_model]]];
  for (let l = 0; l < c.n_layer; l++) {
    const p = blockParamNames(l);
    out.push(
      [p.ln1w, [c.d_model]], [p.ln1b, [c.d_model]], [p.attnW, [c.d_model, 3 * hd]], [p.attnB, [3 * hd]],
      [p.projW, [hd, c.d_model]], [p.projB, [c.d_model]], [p.ln2w, [c.d_model]], [p.ln2b, [c.d_model]],
      [p.fcW, [c.d_model, c.d_mlp]], [p.fcB, [c.d_mlp]], [p.outW, [c.d_mlp, c.d_model]], [p.outB, [c.d_model]],
    );
  }
  out.push([LNF_W, [c.d_model]], [LNF_B, [c.d_model]]);
  if (!c.tied) out.push([LM_HEAD, [c.vocab, c.d_model]]);
  return out;
}

/** a·W with W held constant: the gradient flows to `a` only, as dy·Wᵀ with Wᵀ given (flag-free: wasm fast path). */
function matMulConstW(a: tf.Tensor2D, w: tf.Tensor2D, wT: tf.Tensor2D): tf.Tensor2D {
  const f = tf.customGrad((x: tf.Tensor | tf.GradSaveFunc) => ({
    value: tf.matMul(x as tf.Tensor2D, w),
    gradFunc: (dy: tf.Tensor) => tf.matMul(dy as tf.Tensor2D, wT),
  }));
  return f(a) as tf.Tensor2D;
}

/** A second tensor on `t`'s data (its own reference, no copy) that the gradient tape does not connect to `t`. */
function untracked(t: tf.Tensor): tf.Tensor {
  const alias = tf.engine().makeTensorFromDataId(t.dataId, t.shape, t.dtype);
  tf.backend().incRef(t.dataId); // the engine counts the new tensor; the backend must keep the data for both
  return alias;
}

export class GPT2 {
  readonly config: ModelConfig;
  readonly params: Params;
  private unembedT?: tf.Tensor2D; // cached W_U^T [d, V] for inference (wasm has no fast transposed matmul)
  private readonly weightT = new Map<tf.Tensor, tf.Tensor2D>(); // cached Wᵀ of block weights for activation gradients on wasm
  private readonly causalMasks = new Map<number, tf.Tensor2D>();

  constructor(config: ModelConfig, params: Params) {
    this.config = validateModelConfig(config);
    for (const [name, shape] of paramShapes(config)) {
      const p = params[name];
      if (!p) throw new Error(`model weights: missing parameter '${name}' (expected shape [${shape}])`);
      if (p.shape.join(',') !== shape.join(',')) {
        throw new Error(`model weights: parameter '${name}' has shape [${p.shape}], expected [${shape}]`);
      }
    }
    this.params = params;
  }

  /** GPT-2 initialisation: N(0, 0.02), residual projections scaled by 1/sqrt(2·n_layer), LN = identity. */
  static init(config: ModelConfig, seed: number): GPT2 {
    validateModelConfig(config);
    const params: Params = {};
    paramShapes(config).forEach(([name, shape], i) => {
      const isLnWeight = /ln_[12f]\.weight$/.test(name);
      const isBias = name.endsWith('.bias');
      const residualProj = /(attn|mlp)\.c_proj\.weight$/.test(name);
      const std = residualProj ? 0.02 / Math.sqrt(2 * config.n_layer) : 0.02;
      const value = isLnWeight ? tf.ones(shape) : isBias ? tf.zeros(shape) : tf.randomNormal(shape, 0, std, 'float32', seed * 1009 + i + 1); // +1: tfjs treats seed 0 as unseeded (Math.random)
      params[name] = tf.variable(value, true); // unnamed: tfjs variable names are global, and several models coexist (CMAP)
      value.dispose();
    });
    return new GPT2(config, params);
  }

  /** Variables in paramShapes order. */
  variables(): tf.Variable[] {
    return paramShapes(this.config).map(([name]) => this.params[name]);
  }

  /** Call after weights change in place (training steps, loading) to drop cached derived tensors. */
  weightsChanged(): void {
    this.unembedT?.dispose();
    this.unembedT = undefined;
    for (const t of this.weightT.values()) t.dispose();
    this.weightT.clear();
  }

  /** Wᵀ of a weight, cached until weightsChanged() (used only for gradients w.r.t. activations outside training). */
  private transposed(w: tf.Tensor2D): tf.Tensor2D {
    let t = this.weightT.get(w);
    if (!t) {
      t = tf.keep(tf.transpose(w));
      this.weightT.set(w, t);
    }
    return t;
  }

  dispose(): void {
    this.weightsChanged();
    for (const m of this.causalMasks.values()) m.dispose();
    this.causalMasks.clear();
    for (const v of Object.values(this.params)) v.dispose();
  }

  /** Flat row indices b·T + pos (and the positions) of one position per batch row, checked. */
  private rowIndex(at: Int32Array | number[], B: number, T: number, what: string): { rows: tf.Tensor1D; positions: tf.Tensor1D } {
    if (at.length !== B) throw new Error(`run: ${what} has ${at.length} positions for a batch of ${B}`);
    const rows = Int32Array.from(at, (pos, b) => {
      if (!Number.isInteger(pos) || pos < 0 || pos >= T) throw new Error(`run: ${what}[${b}] = ${pos} is outside [0, ${T})`);
      return b * T + pos;
    });
    return { rows: tf.tensor1d(rows, 'int32'), positions: tf.tensor1d(Int32Array.from(at), 'int32') };
  }

  private mask(t: number): tf.Tensor2D {
    let m = this.causalMasks.get(t);
    if (!m) {
      const vals = new Float32Array(t * t);
      for (let i = 0; i < t; i++) for (let j = i + 1; j < t; j++) vals[i * t + j] = -1e9;
      m = tf.keep(tf.tensor2d(vals, [t, t]));
      this.causalMasks.set(t, m);
    }
    return m;
  }

  private layerNorm(x: tf.Tensor, w: tf.Tensor, b: tf.Tensor): tf.Tensor {
    const mean = tf.mean(x, -1, true);
    const centered = tf.sub(x, mean);
    const variance = tf.mean(tf.square(centered), -1, true);
    return tf.add(tf.mul(tf.mul(centered, tf.rsqrt(tf.add(variance, this.config.ln_eps))), w), b);
  }

  /**
   * x·W + b. Training: differentiable w.r.t. both (matMul2d). Inference: W is a constant; the plain matMul when no
   * gradient is being recorded, and on wasm under a gradient tape (gradients w.r.t. activations, e.g. attribution
   * patching) a matMul whose only gradient is dy·Wᵀ (explicit transpose, flag-free): no wasted weight gradient.
   */
  private linear(x: tf.Tensor, w: tf.Tensor, b: tf.Tensor, training: boolean): tf.Tensor {
    const shape = x.shape;
    const flat = tf.reshape(x, [-1, shape[shape.length - 1]]) as tf.Tensor2D;
    const w2 = w as tf.Tensor2D;
    let xw: tf.Tensor2D;
    if (training) xw = matMul2d(flat, w2);
    else if (activeBackend() === 'wasm' && tf.engine().state.gradientDepth > 0) xw = matMulConstW(flat, w2, this.transposed(w2));
    else xw = tf.matMul(flat, w2);
    return tf.reshape(tf.add(xw, b), [...shape.slice(0, -1), w.shape[1] as number]);
  }

  /**
   * gelu_new, 0.5·x·(1 + tanh(u)) with u = √(2/π)·(x + 0.044715·x³), computed as x·sigmoid(2u) (the same function):
   * wasm's Pow and Tanh kernels are scalar loops, Sigmoid is vectorised (6× faster on wasm, 8× on tensorflow).
   */
  private gelu(x: tf.Tensor): tf.Tensor {
    const c = 2 * Math.sqrt(2 / Math.PI);
    return tf.mul(x, tf.sigmoid(tf.mul(x, tf.add(c, tf.mul(c * 0.044715, tf.square(x))))));
  }

  /** W_U as [d, V]. Cached outside training on wasm, where a transposed matmul falls off the fast path. */
  private unembedMatrix(): tf.Tensor2D {
    const w = (this.config.tied ? this.params[WTE] : this.params[LM_HEAD]) as tf.Tensor2D;
    if (activeBackend() !== 'wasm') return tf.transpose(w);
    if (!this.unembedT) this.unembedT = tf.keep(tf.transpose(w));
    return this.unembedT;
  }

  /** Logits from final-normalised activations [N, d] (no grad through a cached transpose: use while not training). */
  unembed(x: tf.Tensor2D, training = false): tf.Tensor2D {
    if (training) {
      const w = (this.config.tied ? this.params[WTE] : this.params[LM_HEAD]) as tf.Tensor2D;
      // transposeB off wasm: no [d, V] copy of W_U forward and none of its gradient backward
      return activeBackend() === 'wasm' ? matMul2d(x, tf.transpose(w)) : tf.matMul(x, w, false, true);
    }
    return tf.matMul(x, this.unembedMatrix());
  }

  /**
   * One forward pass. Callers own memory: wrap in tf.tidy (cache and logits are returned tensors).
   * `training` keeps every op differentiable w.r.t. the weights.
   */
  run(tokens: tf.Tensor2D, opts: RunOptions = {}, training = false): RunResult {
    const c = this.config;
    const [B, T] = tokens.shape;
    if (T > c.n_ctx) throw new DeterministicError(`input: sequence length ${T} exceeds n_ctx ${c.n_ctx}`);
    const cache: Record<string, tf.Tensor> = {};
    const wanted = opts.cache === undefined ? () => false
      : typeof opts.cache === 'function' ? opts.cache : ((set) => (n: string) => set.has(n))(new Set(opts.cache));
    const hooks = opts.hooks ?? {};
    const hook = (name: string, value: tf.Tensor): tf.Tensor => {
      const fn = hooks[name];
      if (fn) {
        const replaced = fn(value, name);
        if (replaced) {
          if (replaced.shape.join(',') !== value.shape.join(',')) {
            throw new Error(`hook ${name}: replacement has shape [${replaced.shape}], expected [${value.shape}]`);
          }
          value = replaced;
        }
      }
      if (wanted(name)) cache[name] = value;
      return value;
    };

    const start = opts.startLayer ?? 0;
    let resid: tf.Tensor;
    if (start > 0 || opts.residPre) {
      if (!opts.residPre) throw new Error('run: startLayer > 0 needs residPre');
      resid = opts.residPre;
    } else {
      const flat = tf.reshape(tokens, [-1]);
      const wte = this.params[WTE];
      // same data, but a tensor the gradient tape has not seen: no gradient flows from the lookup into W_E
      const table = opts.embedRows ? untracked(wte) : wte;
      const rows = opts.embedRows ? tf.add(tf.gather(table, flat), opts.embedRows) : tf.gather(table, flat);
      const embed = hook(HOOK_EMBED, tf.reshape(rows, [B, T, c.d_model]));
      const posRows = tf.slice(this.params[WPE], [0, 0], [T, c.d_model]);
      const pos = hook(HOOK_POS_EMBED, tf.broadcastTo(tf.expandDims(posRows, 0), [B, T, c.d_model]));
      resid = tf.add(embed, pos);
    }

    const end = opts.endLayer ?? c.n_layer;
    if (!Number.isInteger(end) || end < start || end > c.n_layer) {
      throw new Error(`run: endLayer ${end} is outside [startLayer ${start}, n_layer ${c.n_layer}]`);
    }
    const H = c.n_head;
    const D = c.d_head;
    const lastRows = opts.lastBlockRows && end === c.n_layer && start < end ? this.rowIndex(opts.lastBlockRows, B, T, 'lastBlockRows') : undefined;
    const sameRows = (at: RunOptions['logitsAt']) => typeof at === 'object' && at.length === B && Array.from(at).every((x, b) => x === opts.lastBlockRows![b]);
    if (lastRows && opts.logitsAt !== 'none' && !sameRows(opts.logitsAt)) {
      throw new Error("run: with lastBlockRows, logitsAt must be 'none' or the same positions");
    }
    for (let l = start; l < end; l++) {
      const p = blockParamNames(l);
      const P = this.params;
      resid = hook(hookName.residPre(l), resid);
      const qkv = this.linear(this.layerNorm(resid, P[p.ln1w], P[p.ln1b]), P[p.attnW], P[p.attnB], training);
      const [q0, k0, v0] = tf.split(qkv, 3, -1);
      const q = hook(hookName.q(l), tf.reshape(q0, [B, T, H, D]));
      const k = hook(hookName.k(l), tf.reshape(k0, [B, T, H, D]));
      const v = hook(hookName.v(l), tf.reshape(v0, [B, T, H, D]));
      // In a row-restricted last block the queries (and everything after attention) are one row per prompt.
      const only = l === c.n_layer - 1 ? lastRows : undefined;
      const Tq = only ? 1 : T;
      const qRows = only ? tf.reshape(tf.gather(tf.reshape(q, [B * T, H, D]), only.rows), [B, 1, H, D]) : q;
      const qh = tf.transpose(qRows, [0, 2, 1, 3]);
      const khT = tf.transpose(k, [0, 2, 3, 1]); // [B, H, D, T]: explicit transpose keeps matMul flag-free
      const vh = tf.transpose(v, [0, 2, 1, 3]);
      const mask = only ? tf.reshape(tf.gather(this.mask(T), only.positions), [B, 1, 1, T]) : this.mask(T);
      const scores = tf.add(tf.mul(tf.matMul(qh, khT), 1 / Math.sqrt(D)), mask);
      const pattern = hook(hookName.pattern(l), tf.softmax(scores, -1));
      const z = hook(hookName.z(l), tf.transpose(tf.matMul(pattern, vh), [0, 2, 1, 3]));
      if (only) resid = tf.reshape(tf.gather(tf.reshape(resid, [B * T, c.d_model]), only.rows), [B, 1, c.d_model]);
      const attnOut = hook(hookName.attnOut(l), this.linear(tf.reshape(z, [B, Tq, H * D]), P[p.projW], P[p.projB], training));
      resid = hook(hookName.residMid(l), tf.add(resid, attnOut));
      const hidden = this.gelu(this.linear(this.layerNorm(resid, P[p.ln2w], P[p.ln2b]), P[p.fcW], P[p.fcB], training));
      const mlpOut = hook(hookName.mlpOut(l), this.linear(hidden, P[p.outW], P[p.outB], training));
      resid = hook(hookName.residPost(l), tf.add(resid, mlpOut));
    }
    if (end < c.n_layer) return { cache };
    const normed = hook(HOOK_LN_FINAL, this.layerNorm(resid, this.params[LNF_W], this.params[LNF_B]));

    const at = opts.logitsAt ?? 'all';
    if (at === 'none') return { cache };
    if (lastRows) return { logits: this.unembed(tf.reshape(normed, [B, c.d_model]) as tf.Tensor2D, training), cache };
    if (at === 'all') {
      const logits = this.unembed(tf.reshape(normed, [B * T, c.d_model]) as tf.Tensor2D, training);
      return { logits: tf.reshape(logits, [B, T, c.vocab]), cache };
    }
    if (at.length !== B) throw new Error(`run: logitsAt has ${at.length} positions for a batch of ${B}`);
    const rows = Int32Array.from(at, (pos, b) => {
      if (pos < 0 || pos >= T) throw new Error(`run: logitsAt[${b}] = ${pos} is outside [0, ${T})`);
      return b * T + pos;
    });
    const picked = tf.gather(tf.reshape(normed, [B * T, c.d_model]), tf.tensor1d(rows, 'int32')) as tf.Tensor2D;
    return { logits: this.unembed(picked, training), cache };
  }
}
