// Direct logit attribution at END (ioi-paper §3.9), TransformerLens convention with ln_f folded:
//   dla_b(h) = ((r − mean_d r) / σ_b) · (ln_f.weight ⊙ (W_U[:, IO_b] − W_U[:, S_b])),  r = z_h[b, END] @ W_O^h,
// σ_b = sqrt(biased var(resid_final[b, END]) + eps) from the clean run; averaged over prompts.
// The other pieces of resid_final (embeddings, attention biases, MLP outputs) and the ln_f bias term are
// attributed the same way, so heads + components add up to the mean logit difference.
import { tf } from '../model/engine';
import { blockParamNames, GPT2, LM_HEAD, LNF_B, LNF_W, WTE } from '../model/gpt2';
import { HOOK_EMBED, HOOK_POS_EMBED, hookName } from '../model/hook-names';
import { TraceBatch, TraceSet, tokensTensor, logitDiffs, totalPrompts } from './batch';
import { makeScores, Scores } from './scores';

export interface DlaResult {
  heads: Scores; // [layer, head]
  /** embed, pos_embed, attn_bias_L, mlp_out_L (per layer), ln_f_bias; mean over prompts. */
  components: Record<string, number>;
  /** Mean clean logit difference. */
  logitDiff: number;
  /** |Σ heads + Σ components − logitDiff| (float32 round-off only). */
  closureError: number;
}

export const DLA_FORMULA =
  'mean_b ((r - mean_d(r)) / sigma_b) · (ln_f.weight ⊙ (W_U[:, io_b] − W_U[:, s_b])), r = z_{L,H}[b, END] @ W_O^{L,H}, ' +
  'sigma_b = sqrt(biased_var(resid_final[b, END]) + ln_eps) of the clean run';

function componentNames(nLayer: number): string[] {
  const names = ['embed', 'pos_embed'];
  for (let l = 0; l < nLayer; l++) names.push(`attn_bias_${l}`, `mlp_out_${l}`);
  names.push('ln_f_bias');
  return names;
}

/** Sums over one batch's prompts: head DLAs [L, H], components [componentNames], logit differences. */
function batchSums(model: GPT2, batch: TraceBatch): { heads: tf.Tensor; comps: tf.Tensor; ld: tf.Tensor } {
  return tf.tidy(() => {
    const c = model.config;
    const { n: B, T } = batch;
    const L = c.n_layer;
    const H = c.n_head;
    const D = c.d_head;
    const d = c.d_model;
    const names = [HOOK_EMBED, HOOK_POS_EMBED, hookName.residPost(L - 1)];
    for (let l = 0; l < L; l++) names.push(hookName.z(l), hookName.mlpOut(l));
    const { cache, logits } = model.run(tokensTensor(batch, 'clean'), { cache: names, logitsAt: batch.end });
    const rows = tf.tensor1d(Int32Array.from(batch.end, (e, b) => b * T + e), 'int32');
    const atEnd = (t: tf.Tensor, width: number[]) => tf.gather(tf.reshape(t, [B * T, ...width]), rows);

    const resid = atEnd(cache[hookName.residPost(L - 1)], [d]) as tf.Tensor2D;
    const centred = (x: tf.Tensor) => tf.sub(x, tf.mean(x, -1, true));
    const sigma = tf.sqrt(tf.add(tf.mean(tf.square(centred(resid)), -1, true), c.ln_eps)); // [B, 1]
    const wu = c.tied ? model.params[WTE] : model.params[LM_HEAD]; // [V, d]
    const diff = tf.sub(tf.gather(wu, tf.tensor1d(batch.io, 'int32')), tf.gather(wu, tf.tensor1d(batch.s, 'int32'))); // [B, d]
    const dir = tf.mul(diff, model.params[LNF_W]);
    /** Σ_b attribution of a [B, d] piece of resid_final. */
    const attribute = (x: tf.Tensor) => tf.sum(tf.mul(tf.div(centred(x), sigma), dir));

    const headRows: tf.Tensor[] = [];
    const comps: tf.Tensor[] = [attribute(atEnd(cache[HOOK_EMBED], [d])), attribute(atEnd(cache[HOOK_POS_EMBED], [d]))];
    for (let l = 0; l < L; l++) {
      const p = blockParamNames(l);
      const z = tf.transpose(atEnd(cache[hookName.z(l)], [H, D]), [1, 0, 2]); // [H, B, D]
      const wo = tf.reshape(model.params[p.projW], [H, D, d]);
      const r = tf.matMul(z, wo); // [H, B, d]
      const contrib = tf.mul(tf.div(centred(r), tf.expandDims(sigma, 0)), tf.expandDims(dir, 0));
      headRows.push(tf.sum(contrib, [1, 2]));
      comps.push(attribute(tf.broadcastTo(tf.expandDims(model.params[p.projB], 0), [B, d])));
      comps.push(attribute(atEnd(cache[hookName.mlpOut(l)], [d])));
    }
    comps.push(tf.sum(tf.mul(diff, model.params[LNF_B])));
    return { heads: tf.stack(headRows), comps: tf.stack(comps), ld: tf.sum(logitDiffs(logits as tf.Tensor2D, batch)) };
  });
}

/** Per-head DLA at END, mean over the set's clean prompts, with the remaining components of the logit difference. */
export async function directLogitAttribution(model: GPT2, set: TraceSet): Promise<DlaResult> {
  const c = model.config;
  const n = totalPrompts(set);
  if (n === 0) throw new Error('dla: the trace set has no prompts');
  const names = componentNames(c.n_layer);
  const heads = new Float64Array(c.n_layer * c.n_head);
  const comps = new Float64Array(names.length);
  let ld = 0;
  for (const batch of set) {
    const s = batchSums(model, batch);
    const [h, k, l] = await Promise.all([s.heads.data(), s.comps.data(), s.ld.data()]);
    h.forEach((v, i) => (heads[i] += v));
    k.forEach((v, i) => (comps[i] += v));
    ld += l[0];
    tf.dispose([s.heads, s.comps, s.ld]);
  }
  const components: Record<string, number> = {};
  names.forEach((name, i) => (components[name] = comps[i] / n));
  const headMeans = Float32Array.from(heads, (v) => v / n);
  const total = heads.reduce((a, b) => a + b, 0) / n + comps.reduce((a, b) => a + b, 0) / n;
  return {
    heads: makeScores({
      method: 'dla/head',
      axes: ['layer', 'head'],
      shape: [c.n_layer, c.n_head],
      values: headMeans,
      metric: { name: 'logit_diff', form: 'value', description: `direct logit attribution at END: ${DLA_FORMULA}` },
      settings: { position: 'END', prompts: n, lnFinal: 'scale frozen from the clean run (folded)', centred: true },
    }),
    components,
    logitDiff: ld / n,
    closureError: Math.abs(total - ld / n),
  };
}
