// Attribution patching: a first-order estimate of every head's activation-patching effect from 2 forward passes and
// 1 backward pass. One forward caches the source run's z; the base run's forward adds a zero delta to every layer's
// z (so the gradient w.r.t. the delta is the gradient w.r.t. z) and one backward gives them all. The score of head h
// is Σ over prompts, positions and d_head of (z_source − z_base)·∂(mean LD)/∂z: the estimated change of the mean LD.
import { tf } from '../model/engine';
import { GPT2 } from '../model/gpt2';
import { HOOK_LN_FINAL, hookName } from '../model/hook-names';
import { TraceBatch, TraceSet, tokensTensor } from './batch';
import { PreparedBatch, RunCache, cacheRun, checkBatch, endLogitDiff, endRowsOf, fitToBudget, mean } from './batched';
import { LOGIT_DIFF, NORMALISED_FORMULA, PatchDirection, asSet, modelSettings, promptSettings, weightedMean } from './activation';
import { rankCorrelation } from './rank';
import { Scores, makeScores } from './scores';

export interface AttributionOptions {
  /** noising (default): gradient at the clean run × (z_corrupt − z_clean); denoising: at the corrupt run × (z_clean − z_corrupt). */
  direction?: PatchDirection;
  /** Scores per [layer, head, position] (needs prompts of one length) instead of [layer, head]. */
  perPosition?: boolean;
  /** Exact activation patching of the same components (patched LD or its normalised form): Spearman ρ is reported. */
  exact?: Scores;
  /** Memory for one forward + backward (every layer's activations stay alive); larger batches are split by rows. */
  memoryBudgetMB?: number;
}

export const DEFAULT_ATTRIBUTION_BUDGET_MB = 1024;

export interface AttributionResult {
  /** Estimated change of the mean logit difference when the head's z is patched (the attribution score). */
  delta: Scores;
  /** Estimated patched mean LD: base + delta (comparable with exact activation patching's `patched`). */
  patched: Scores;
  /** (estimated patched − corrupt)/(clean − corrupt). */
  normalised: Scores;
  clean: number;
  corrupt: number;
  /** Spearman ρ between `delta` and `exact` when `exact` was given. */
  rankCorrelation?: number;
  stats: { forwards: number; backwards: number; ms: number };
}

/** One batch: the base run's per-prompt LD and the [L, H] or [L, H, T] score sums. */
function attributeBatch(model: GPT2, batch: TraceBatch, baseWhich: 'clean' | 'corrupt', source: RunCache, perPosition: boolean): { scores: Float32Array; baseLd: Float32Array } {
  const { n_layer: L, n_head: H, d_head: D } = model.config;
  const { n: B, T } = batch;
  const zNames = Array.from({ length: L }, (_, l) => hookName.z(l));
  // Per head, the top block runs at END only (its other rows never reach the metric: their gradient is 0).
  const endOnly = !perPosition;
  const rowsOf = (l: number) => (endOnly && l === L - 1 ? 1 : T);
  const deltas = zNames.map((_, l) => tf.zeros([B, rowsOf(l), H, D]));
  const baseZ: tf.Tensor[] = [];
  try {
    const out = tf.tidy(() => {
      const tokens = tokensTensor(batch, baseWhich);
      const f = (...ds: tf.Tensor[]) => {
        const hooks = Object.fromEntries(zNames.map((n, l) => [n, (z: tf.Tensor) => {
          baseZ[l] = tf.keep(z);
          return tf.add(z, ds[l]);
        }]));
        const { cache } = model.run(tokens, { hooks, cache: [HOOK_LN_FINAL], logitsAt: 'none', lastBlockRows: endOnly ? batch.end : undefined });
        const ld = endLogitDiff(model, cache[HOOK_LN_FINAL], endOnly ? null : batch.end, batch.io, batch.s);
        return tf.keep(ld);
      };
      let ldRows: tf.Tensor | undefined;
      const { grads } = tf.valueAndGrads((...ds: tf.Tensor[]) => {
        ldRows = f(...ds);
        return tf.mean(ldRows) as tf.Scalar;
      })(deltas);
      const per = zNames.map((n, l) => {
        const full = source.cache[n];
        const src = full.shape[1] === rowsOf(l) ? full : endRowsOf(full, batch.end);
        const prod = tf.mul(tf.sub(src, baseZ[l]), grads[l]); // [B, T (1 at the top when END-only), H, D]
        return perPosition ? tf.transpose(tf.sum(prod, [0, 3]), [1, 0]) : tf.sum(prod, [0, 1, 3]); // [H, T] or [H]
      });
      const stacked = tf.stack(per);
      const ld = ldRows!;
      return { stacked, ld };
    });
    const scores = out.stacked.dataSync().slice() as Float32Array;
    const baseLd = out.ld.dataSync().slice() as Float32Array;
    out.stacked.dispose();
    out.ld.dispose();
    return { scores, baseLd };
  } finally {
    deltas.forEach((d) => d.dispose());
    baseZ.forEach((z) => z?.dispose());
  }
}

/** Attribution patching of every head over a trace set. */
export async function attributionPatching(model: GPT2, input: TraceSet | TraceBatch, o: AttributionOptions = {}): Promise<AttributionResult> {
  const set = fitToBudget(model, asSet(input), o.memoryBudgetMB ?? DEFAULT_ATTRIBUTION_BUDGET_MB, 2 * model.config.n_layer);
  const direction = o.direction ?? 'noising';
  const zNames = Array.from({ length: model.config.n_layer }, (_, l) => hookName.z(l));
  const t0 = performance.now();
  const parts = set.map((b) => {
    checkBatch(model, b);
    const source = cacheRun(model, b, direction === 'noising' ? 'corrupt' : 'clean', zNames, !o.perPosition);
    try {
      const r = attributeBatch(model, b, direction === 'noising' ? 'clean' : 'corrupt', source, !!o.perPosition);
      return { ...r, sourceLd: source.ld };
    } finally {
      for (const t of Object.values(source.cache)) t.dispose();
    }
  });
  const ms = performance.now() - t0;
  const baseMean = weightedMean(parts.map((p) => mean(p.baseLd)), set);
  const sourceMean = weightedMean(parts.map((p) => mean(p.sourceLd)), set);
  const [clean, corrupt] = direction === 'noising' ? [baseMean, sourceMean] : [sourceMean, baseMean];
  return finishAttribution(model, set, parts.map((p) => p.scores), { clean, corrupt, direction, o, stats: { forwards: 2 * set.length, backwards: set.length, ms } });
}

/**
 * Attribution patching over prepared batches: the gradient is taken on the base run (clean for noising) and the
 * source activations are the other run's cached z (which may be any activations, e.g. clean + ε for checks).
 */
export async function attributionPatchingPrepared(model: GPT2, prepared: PreparedBatch[], o: AttributionOptions = {}): Promise<AttributionResult> {
  const direction = o.direction ?? 'noising';
  const set = prepared.map((p) => p.batch);
  const t0 = performance.now();
  const scores = prepared.map((p) => attributeBatch(model, p.batch, direction === 'noising' ? 'clean' : 'corrupt', direction === 'noising' ? p.corrupt : p.clean, !!o.perPosition).scores);
  const clean = weightedMean(prepared.map((p) => mean(p.clean.ld)), set);
  const corrupt = weightedMean(prepared.map((p) => mean(p.corrupt.ld)), set);
  return finishAttribution(model, set, scores, { clean, corrupt, direction, o, stats: { forwards: set.length, backwards: set.length, ms: performance.now() - t0 } });
}

function finishAttribution(model: GPT2, set: TraceSet, perBatch: Float32Array[],
  c: { clean: number; corrupt: number; direction: PatchDirection; o: AttributionOptions; stats: AttributionResult['stats'] }): AttributionResult {
  const { n_layer: L, n_head: H } = model.config;
  const perPosition = !!c.o.perPosition;
  if (perPosition && new Set(set.map((b) => b.T)).size !== 1) throw new Error('perPosition: attribution per position needs prompts of one length');
  const T = set[0].T;
  const N = set.reduce((a, b) => a + b.n, 0);
  const size = perBatch[0].length;
  const values = new Float32Array(size);
  // Each batch's score is for its own mean LD; the set's mean LD weights batch i by n_i/N.
  perBatch.forEach((s, i) => { for (let j = 0; j < size; j++) values[j] += (s[j] * set[i].n) / N; });
  const base = c.direction === 'noising' ? c.clean : c.corrupt;
  const settings = { direction: c.direction, perPosition, components: 'hook_z of every head', ...promptSettings(set), ...modelSettings(model) };
  const common = {
    method: 'attribution_patching/head_z', axes: perPosition ? ['layer', 'head', 'position'] : ['layer', 'head'],
    shape: perPosition ? [L, H, T] : [L, H], labels: { layer: Array.from({ length: L }, (_, l) => String(l)) }, settings,
  };
  const what = c.direction === 'noising' ? 'corrupt z patched into the clean run' : 'clean z patched into the corrupt run';
  const baselines = { clean: c.clean, corrupt: c.corrupt };
  const delta = makeScores({ ...common, values, metric: { name: LOGIT_DIFF, form: 'delta', description: `first-order estimate (gradient × activation difference) of the change in mean logit difference with the ${what}`, baselines } });
  const patched = makeScores({ ...common, values: values.map((v) => base + v), metric: { name: LOGIT_DIFF, form: 'value', description: `estimated mean logit difference with the ${what} (base + attribution)`, baselines } });
  const normalised = makeScores({ ...common, values: patched.values.map((v) => (v - c.corrupt) / (c.clean - c.corrupt)), metric: { name: LOGIT_DIFF, form: 'normalised', normalised: NORMALISED_FORMULA, description: patched.metric.description, baselines } });
  const result: AttributionResult = { delta, patched, normalised, clean: c.clean, corrupt: c.corrupt, stats: c.stats };
  if (c.o.exact) result.rankCorrelation = rankCorrelation(delta, c.o.exact);
  return result;
}
