// Path patching (Wang et al. App. B; digest §3.3, §6.1): the effect of a sender head's corrupt output that reaches the
// receivers (the logits directly, or a receiver head set's q/k/v input) only through the residual stream and MLPs.
// Step A runs the clean prompts with the sender's z from the corrupt run and every later head frozen to its clean z
// (MLPs and LayerNorms recompute). For logits receivers the score is read there. For head receivers step A records
// their q/k/v input, and step B reruns the clean prompts with only that input replaced. Both steps are batched:
// K senders of one layer per pass, each pass starting at the lowest layer it changes.
import { tf } from '../model/engine';
import { GPT2 } from '../model/gpt2';
import { hookName } from '../model/hook-names';
import { TraceBatch, TraceSet } from './batch';
import {
  DEFAULT_MAX_COPIES, DEFAULT_MEMORY_BUDGET_MB, HookPlan, PositionSel, PreparedBatch, Variant,
  copiesFor, copyMeans, fitToBudget, disposePrepared, maskFor, mean, prepareBatch, tiledPass,
} from './batched';
import { BatchingOptions, LOGIT_DIFF, PatchingStats, asSet, flatIndex, modelSettings, promptSettings, sweepKey, weightedMean } from './activation';
import { Scores, makeScores } from './scores';
import { runSweep } from './sweep';

export interface Head {
  layer: number;
  head: number;
}

export type ReceiverInput = 'q' | 'k' | 'v';

export type Receiver =
  | { kind: 'logits' }
  | { kind: 'heads'; heads: Head[]; input: ReceiverInput; positions?: PositionSel };

export interface PathPatchingOptions extends BatchingOptions {
  receiver: Receiver;
  /** Sender heads (default: every head below the highest receiver layer; all heads for logits). */
  senders?: Head[];
  /** Positions where a sender's z is patched (default all). */
  senderPositions?: PositionSel;
}

export interface PathPatchingResult {
  /** F_patched: mean logit difference of the path-patched run, [layer, head] (NaN: not a sender). */
  patched: Scores;
  /** Wang's relative change (F_patched − F_orig)/F_orig. */
  relative: Scores;
  /** ARENA's normalised form (F_patched − F_new)/(F_orig − F_new): 1 = no effect, 0 = fully corrupted. */
  normalised: Scores;
  /** F_orig (clean prompts) and F_new (corrupt prompts). */
  clean: number;
  corrupt: number;
  stats: PatchingStats;
}

const INPUT_HOOK = { q: hookName.q, k: hookName.k, v: hookName.v };

function checkHead(model: GPT2, h: Head, what: string): void {
  const { n_layer: L, n_head: H } = model.config;
  if (!(Number.isInteger(h.layer) && h.layer >= 0 && h.layer < L && Number.isInteger(h.head) && h.head >= 0 && h.head < H)) {
    throw new Error(`${what}: head ${h.layer}.${h.head} is outside the model's ${L} layers × ${H} heads`);
  }
}

function receiverLabel(r: Receiver): string {
  if (r.kind === 'logits') return 'logits';
  const pos = r.positions === undefined || r.positions === 'all' ? 'all' : 'index' in r.positions ? String(r.positions.index) : r.positions.name;
  return `${r.heads.map((h) => `${h.layer}.${h.head}`).join(',')} ${r.input}@${pos}`;
}

export async function pathPatching(model: GPT2, input: TraceSet | TraceBatch, o: PathPatchingOptions): Promise<PathPatchingResult> {
  const set = fitToBudget(model, asSet(input), o.memoryBudgetMB ?? DEFAULT_MEMORY_BUDGET_MB);
  const { n_layer: L } = model.config;
  const zNames = Array.from({ length: L }, (_, l) => hookName.z(l));
  const prepared = set.map((b) => prepareBatch(model, b, zNames));
  try {
    return await pathPatchingPrepared(model, prepared, o);
  } finally {
    prepared.forEach(disposePrepared);
  }
}

/** Path patching over prepared batches whose caches hold every layer's z and resid_pre. */
export async function pathPatchingPrepared(model: GPT2, prepared: PreparedBatch[], o: PathPatchingOptions): Promise<PathPatchingResult> {
  const t0 = performance.now();
  const { n_layer: L, n_head: H } = model.config;
  const r = o.receiver;
  if (r.kind !== 'logits' && r.kind !== 'heads') throw new Error(`receiver.kind: expected 'logits' or 'heads', got '${(r as { kind: string }).kind}'`);
  if (r.kind === 'heads') {
    if (!r.heads.length) throw new Error('receiver.heads: expected at least one receiver head');
    if (!(r.input in INPUT_HOOK)) throw new Error(`receiver.input: expected 'q', 'k' or 'v', got '${r.input}'`);
    r.heads.forEach((h) => checkHead(model, h, 'receiver.heads'));
  }
  const recvLayers = r.kind === 'heads' ? [...new Set(r.heads.map((h) => h.layer))].sort((a, b) => a - b) : [];
  const top = r.kind === 'heads' ? recvLayers[recvLayers.length - 1] : L;
  const senders = (o.senders ?? Array.from({ length: L * H }, (_, i) => ({ layer: Math.floor(i / H), head: i % H })).filter((s) => s.layer < top))
    .slice().sort((a, b) => a.layer - b.layer || a.head - b.head);
  senders.forEach((s) => {
    checkHead(model, s, 'senders');
    if (s.layer >= top) throw new Error(`senders: head ${s.layer}.${s.head} is not below the highest receiver layer ${top}`);
  });
  const set = prepared.map((p) => p.batch);
  const clean = weightedMean(prepared.map((p) => mean(p.clean.ld)), set);
  const corrupt = weightedMean(prepared.map((p) => mean(p.corrupt.ld)), set);
  const settings = {
    receiver: r, receiverLabel: receiverLabel(r), senders: o.senders ? senders.map((s) => `${s.layer}.${s.head}`) : 'all below the receivers',
    senderPositions: o.senderPositions ?? 'all', frozen: 'every head after the sender layer holds its clean z; MLPs and LayerNorms recompute',
    memoryBudgetMB: o.memoryBudgetMB ?? DEFAULT_MEMORY_BUDGET_MB, maxCopies: o.maxCopies ?? DEFAULT_MAX_COPIES,
    ...promptSettings(set), ...modelSettings(model),
  };
  const key = sweepKey('path', settings, model, set);
  const copies = prepared.map((p) => copiesFor(model, p.batch, o.memoryBudgetMB ?? DEFAULT_MEMORY_BUDGET_MB, o.maxCopies ?? DEFAULT_MAX_COPIES));
  const stats: PatchingStats = { variants: senders.length, passes: 0, skipped: 0, copiesPerPass: [], ms: 0 };
  const nS = senders.length;

  const perBatch = await runSweep({
    key,
    total: prepared.length * nS,
    chunkEnd: (start) => {
      const bi = Math.floor(start / nS);
      let i = start % nS;
      const limit = Math.min(nS, i + copies[bi]);
      const layer = senders[i].layer;
      while (i < limit && senders[i].layer === layer) i++;
      return bi * nS + i;
    },
    compute: (start, end) => {
      const p = prepared[Math.floor(start / nS)];
      const chunk = senders.slice(start % nS, start % nS + (end - start));
      const means = copyMeans(pathPass(model, p, chunk, r, o.senderPositions ?? 'all', stats), p.batch.n);
      stats.copiesPerPass.push(chunk.length);
      return means;
    },
  }, o.sweep);

  const shape = [L, H];
  const base = {
    method: `path_patching/${r.kind === 'logits' ? 'logits' : `heads_${r.input}`}`, axes: ['layer', 'head'], shape,
    labels: { layer: Array.from({ length: L }, (_, l) => String(l)) }, settings: { ...settings, copiesPerPass: [...new Set(stats.copiesPerPass)] },
  };
  const description = `mean logit difference of the clean run where senders' corrupt z reach ${receiverLabel(r)} only through the residual stream and MLPs`;
  const patched = makeScores({ ...base, metric: { name: LOGIT_DIFF, form: 'value', description, baselines: { clean, corrupt } } });
  senders.forEach((s, i) => {
    patched.values[flatIndex(shape, [s.layer, s.head])] = weightedMean(prepared.map((_, bi) => perBatch[bi * nS + i]), set);
  });
  const relative = makeScores({ ...base, values: patched.values.map((v) => (v - clean) / clean),
    metric: { name: LOGIT_DIFF, form: 'relative', normalised: '(F_patched − F_orig)/F_orig', description, baselines: { clean, corrupt } } });
  const normalised = makeScores({ ...base, values: patched.values.map((v) => (v - corrupt) / (clean - corrupt)),
    metric: { name: LOGIT_DIFF, form: 'normalised', normalised: '(F_patched − F_new)/(F_orig − F_new)', description, baselines: { clean, corrupt } } });
  stats.ms = performance.now() - t0;
  return { patched, relative, normalised, clean, corrupt, stats };
}

/** Both steps for K senders of one layer on one batch; per-row LD of the tiled batch [K·B]. */
function pathPass(model: GPT2, p: PreparedBatch, senders: Head[], r: Receiver, senderPositions: PositionSel, stats: PatchingStats): Float32Array {
  const L = model.config.n_layer;
  const H = model.config.n_head;
  const K = senders.length;
  const ls = senders[0].layer;
  const sendVariants: Variant[] = senders.map((s) => [{ hook: hookName.z(ls), layer: ls, head: s.head, positions: senderPositions }]);
  const top = r.kind === 'heads' ? Math.max(...r.heads.map((h) => h.layer)) + 1 : L;
  const plans: Record<string, HookPlan[]> = {
    [hookName.z(ls)]: [{ source: p.corrupt.cache[hookName.z(ls)], mask: maskFor(p.batch, sendVariants, hookName.z(ls), H) }],
  };
  for (let l = ls + 1; l < top; l++) plans[hookName.z(l)] = [{ source: p.clean.cache[hookName.z(l)] }]; // frozen
  if (r.kind === 'logits') {
    const { ld } = tiledPass(model, { batch: p.batch, copies: K, residPre: p.clean.cache[hookName.residPre(ls)], startLayer: ls, plans });
    stats.passes++;
    return ld!;
  }
  const recvLayers = [...new Set(r.heads.map((h) => h.layer))];
  const capture = recvLayers.map((l) => INPUT_HOOK[r.input](l));
  const stepA = tiledPass(model, { batch: p.batch, copies: K, residPre: p.clean.cache[hookName.residPre(ls)], startLayer: ls, endLayer: top, plans, capture });
  try {
    const first = Math.min(...recvLayers);
    const recvPlans: Record<string, HookPlan[]> = {};
    for (const l of recvLayers) {
      const hook = INPUT_HOOK[r.input](l);
      const recvVariant: Variant = r.heads.filter((h) => h.layer === l).map((h) => ({ hook, layer: l, head: h.head, positions: r.positions }));
      recvPlans[hook] = [{ source: stepA.captured[hook], mask: maskFor(p.batch, Array(K).fill(recvVariant), hook, H) }];
    }
    const { ld } = tiledPass(model, { batch: p.batch, copies: K, residPre: p.clean.cache[hookName.residPre(first)], startLayer: first, plans: recvPlans });
    stats.passes += 2;
    return ld!;
  } finally {
    for (const t of Object.values(stepA.captured)) (t as tf.Tensor).dispose();
  }
}
