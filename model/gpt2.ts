// A GPT-2-style decoder in tfjs-core ops, with TransformerLens-named hook points for caching and patching:
// embeddings → blocks (block.ts: attention, MLP) → final LayerNorm → logits. Parameters use Hugging Face GPT-2
// names and layouts (Conv1D weights are [in, out]; qkv fused). Shapes: B batch rows, T positions, d d_model, V vocab.
import { tf, matMul2d, activeBackend } from './engine';
import { block, BlockContext, BlockWeights, RowSelection } from './block';
import { ModelConfig, validateModelConfig } from './config';
import { HOOK_EMBED, HOOK_LN_FINAL, HOOK_POS_EMBED } from './hook-names';
import { DerivedTensors, layerNorm, linear, untracked } from './layers';
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

type HookPoint = (name: string, value: tf.Tensor) => tf.Tensor;

/** The hook points of one run: opts.hooks[name] may replace the value (same shape); wanted values go to `cache`. */
function hookPoints(opts: RunOptions): { hook: HookPoint; cache: Record<string, tf.Tensor> } {
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
  return { hook, cache };
}

/** Flat row indices b·T + pos (and the positions) of one position per batch row, checked. */
function rowIndex(at: Int32Array | number[], B: number, T: number, what: string): RowSelection {
  if (at.length !== B) throw new Error(`run: ${what} has ${at.length} positions for a batch of ${B}`);
  const rows = Int32Array.from(at, (pos, b) => {
    if (!Number.isInteger(pos) || pos < 0 || pos >= T) throw new Error(`run: ${what}[${b}] = ${pos} is outside [0, ${T})`);
    return b * T + pos;
  });
  return { rows: tf.tensor1d(rows, 'int32'), positions: tf.tensor1d(Int32Array.from(at), 'int32') };
}

export class GPT2 {
  readonly config: ModelConfig;
  readonly params: Params;
  private readonly derived = new DerivedTensors();

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
    this.derived.weightsChanged();
  }

  dispose(): void {
    this.derived.dispose();
    for (const v of Object.values(this.params)) v.dispose();
  }

  private blockWeights(l: number): BlockWeights {
    const p = blockParamNames(l);
    const P = this.params;
    return {
      ln1: { w: P[p.ln1w], b: P[p.ln1b] }, attn: { w: P[p.attnW], b: P[p.attnB] }, proj: { w: P[p.projW], b: P[p.projB] },
      ln2: { w: P[p.ln2w], b: P[p.ln2b] }, fc: { w: P[p.fcW], b: P[p.fcB] }, out: { w: P[p.outW], b: P[p.outB] },
    };
  }

  /** W_U as [V, d] (tied: the token embedding). */
  private unembedRows(): tf.Tensor2D {
    return (this.config.tied ? this.params[WTE] : this.params[LM_HEAD]) as tf.Tensor2D;
  }

  /** Logits from final-normalised activations [N, d] (no grad through a cached transpose: use while not training). */
  unembed(x: tf.Tensor2D, training = false): tf.Tensor2D {
    const w = this.unembedRows();
    if (training) {
      // transposeB off wasm: no [d, V] copy of W_U forward and none of its gradient backward
      return activeBackend() === 'wasm' ? matMul2d(x, tf.transpose(w)) : tf.matMul(x, w, false, true);
    }
    // W_U as [d, V]; cached on wasm, where a transposed matmul falls off the fast path
    return tf.matMul(x, activeBackend() === 'wasm' ? this.derived.transposed(w) : tf.transpose(w));
  }

  /**
   * Token + position embeddings [B, T, d]. Hooks embed, pos_embed. With `embedRows` [B·T, d] added to the token
   * rows, the lookup reads W_E through an untracked alias (see RunOptions.embedRows).
   */
  private embed(tokens: tf.Tensor2D, hook: HookPoint, embedRows?: tf.Tensor2D): tf.Tensor {
    const d = this.config.d_model;
    const [B, T] = tokens.shape;
    const flat = tf.reshape(tokens, [-1]);
    const wte = this.params[WTE];
    // same data, but a tensor the gradient tape has not seen: no gradient flows from the lookup into W_E
    const table = embedRows ? untracked(wte) : wte;
    const rows = embedRows ? tf.add(tf.gather(table, flat), embedRows) : tf.gather(table, flat);
    const embed = hook(HOOK_EMBED, tf.reshape(rows, [B, T, d]));
    const posRows = tf.slice(this.params[WPE], [0, 0], [T, d]);
    const pos = hook(HOOK_POS_EMBED, tf.broadcastTo(tf.expandDims(posRows, 0), [B, T, d]));
    return tf.add(embed, pos);
  }

  /**
   * Logits of final-normalised activations: [B, T, V] at every position ('all'), [B, V] at one position per row,
   * or [B, V] from a top block that ran at those rows only (`normed` is then [B, 1, d]).
   */
  private logits(normed: tf.Tensor, at: 'all' | Int32Array | number[], topRowsOnly: boolean, B: number, T: number, training: boolean): tf.Tensor {
    const { d_model: d, vocab: V } = this.config;
    if (topRowsOnly) return this.unembed(tf.reshape(normed, [B, d]) as tf.Tensor2D, training);
    if (at === 'all') return tf.reshape(this.unembed(tf.reshape(normed, [B * T, d]) as tf.Tensor2D, training), [B, T, V]);
    const picked = tf.gather(tf.reshape(normed, [B * T, d]), rowIndex(at, B, T, 'logitsAt').rows) as tf.Tensor2D;
    return this.unembed(picked, training);
  }

  /**
   * One forward pass. Callers own memory: wrap in tf.tidy (cache and logits are returned tensors).
   * `training` keeps every op differentiable w.r.t. the weights.
   */
  run(tokens: tf.Tensor2D, opts: RunOptions = {}, training = false): RunResult {
    const c = this.config;
    const [B, T] = tokens.shape;
    if (T > c.n_ctx) throw new DeterministicError(`input: sequence length ${T} exceeds n_ctx ${c.n_ctx}`);
    const { hook, cache } = hookPoints(opts);

    const start = opts.startLayer ?? 0;
    let resid: tf.Tensor; // [B, T, d]
    if (start > 0 || opts.residPre) {
      if (!opts.residPre) throw new Error('run: startLayer > 0 needs residPre');
      resid = opts.residPre;
    } else {
      resid = this.embed(tokens, hook, opts.embedRows);
    }

    const end = opts.endLayer ?? c.n_layer;
    if (!Number.isInteger(end) || end < start || end > c.n_layer) {
      throw new Error(`run: endLayer ${end} is outside [startLayer ${start}, n_layer ${c.n_layer}]`);
    }
    const lastRows = opts.lastBlockRows && end === c.n_layer && start < end ? rowIndex(opts.lastBlockRows, B, T, 'lastBlockRows') : undefined;
    const sameRows = (at: RunOptions['logitsAt']) => typeof at === 'object' && at.length === B && Array.from(at).every((x, b) => x === opts.lastBlockRows![b]);
    if (lastRows && opts.logitsAt !== 'none' && !sameRows(opts.logitsAt)) {
      throw new Error("run: with lastBlockRows, logitsAt must be 'none' or the same positions");
    }
    const ctx: BlockContext = {
      config: c, B, T, hook,
      linear: (x, w, b) => linear(x, w, b, training, this.derived),
      causalMask: (t) => this.derived.causalMask(t),
    };
    for (let l = start; l < end; l++) resid = block(ctx, l, this.blockWeights(l), resid, l === c.n_layer - 1 ? lastRows : undefined);
    if (end < c.n_layer) return { cache };
    const normed = hook(HOOK_LN_FINAL, layerNorm(resid, this.params[LNF_W], this.params[LNF_B], c.ln_eps)); // [B, T or 1, d]

    const at = opts.logitsAt ?? 'all';
    if (at === 'none') return { cache };
    return { logits: this.logits(normed, at, lastRows !== undefined, B, T, training), cache };
  }
}
