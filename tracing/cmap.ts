// Cross-model activation patching (CMAP, ioi-paper §3.11, §6.3): run receiver model A on the clean prompts with
// some of its head activations (z, q, k, v, or the attention pattern) replaced by donor model B's on the same tokens.
//   ΔCMAP = F_A[c←B] − F_A,   normalised = (F_A[c←B] − F_A) / (F_B − F_A)
import { tf } from '../model/engine';
import { ModelConfig } from '../model/config';
import { GPT2, HookFn } from '../model/gpt2';
import { hookName } from '../model/hook-names';
import { TraceBatch, TraceSet, totalPrompts } from './batch';
import { allHeads, checkHead, HeadRef, headLabel } from './heads';
import { makeScores, Scores } from './scores';
import { cachedRun, disposeAll, meanOver, PassOptions, residPreNames, runVariants, tileRows } from './variants';

export type CmapKind = 'z' | 'q' | 'k' | 'v' | 'pattern';
export const CMAP_KINDS: readonly CmapKind[] = ['z', 'q', 'k', 'v', 'pattern'];
/** Positions patched: every position, or only END (for 'pattern': the END query row). */
export type CmapPositions = 'all' | 'END';

export const CMAP_NORMALISED = '(F_A[c<-B] - F_A) / (F_B - F_A)';

const HOOK_OF: Record<CmapKind, (l: number) => string> = { z: hookName.z, q: hookName.q, k: hookName.k, v: hookName.v, pattern: hookName.pattern };

export type CmapOptions = PassOptions & {
  /** After each prompt batch: batches done of all. */
  onProgress?: (done: number, total: number) => void;
};

export interface CmapSetSpec {
  name?: string;
  heads: readonly HeadRef[];
  kinds: readonly CmapKind[];
  positions?: CmapPositions; // default 'all'
  /**
   * Prakash's cmap_in: after patching, every head's output z at every position except END is reset to A's own
   * clean value, so the patch acts only through the final position (default false).
   */
  freezeNonEnd?: boolean;
}

export interface CmapSetResult {
  name: string;
  heads: string[];
  kinds: CmapKind[];
  positions: CmapPositions;
  freezeNonEnd: boolean;
  fReceiver: number; // F_A
  fDonor: number; // F_B
  patched: number; // F_A[c←B]
  delta: number;
  normalised: number; // NaN when F_B = F_A
}

export interface CmapSweep {
  fReceiver: number;
  fDonor: number;
  patched: Scores; // F_A[h←B] per head
  delta: Scores;
  normalised: Scores;
}

function checkSameArchitecture(a: ModelConfig, b: ModelConfig): void {
  for (const key of ['n_layer', 'n_head', 'd_head', 'd_model', 'd_mlp', 'vocab'] as const) {
    if (a[key] !== b[key]) throw new Error(`cmap: receiver and donor differ in ${key} (${a[key]} vs ${b[key]}); CMAP needs the same architecture`);
  }
}

/** One patch of a variant: these heads' `kind` at `positions` of `layer`. */
interface Patch {
  layer: number;
  heads: number[];
  kind: CmapKind;
  positions: CmapPositions;
}

interface Variant {
  patches: Patch[];
  freezeNonEnd: boolean;
  startLayer: number;
}

function variantOf(spec: CmapSetSpec, c: ModelConfig): Variant {
  if (!spec.heads.length) throw new Error(`cmap set '${spec.name ?? ''}': needs at least one head`);
  if (!spec.kinds.length) throw new Error(`cmap set '${spec.name ?? ''}': needs at least one kind (${CMAP_KINDS.join(', ')})`);
  for (const k of spec.kinds) if (!CMAP_KINDS.includes(k)) throw new Error(`cmap kind: expected one of ${CMAP_KINDS.join(', ')}, got ${JSON.stringify(k)}`);
  const positions = spec.positions ?? 'all';
  if (positions !== 'all' && positions !== 'END') throw new Error(`cmap positions: expected 'all' or 'END', got ${JSON.stringify(positions)}`);
  const byLayer = new Map<number, number[]>();
  spec.heads.forEach((h, i) => {
    checkHead(c, h, `cmap set '${spec.name ?? ''}' heads[${i}]`);
    if (!byLayer.has(h.layer)) byLayer.set(h.layer, []);
    byLayer.get(h.layer)!.push(h.head);
  });
  const patches: Patch[] = [];
  for (const [layer, heads] of byLayer) for (const kind of spec.kinds) patches.push({ layer, heads, kind, positions });
  return { patches, freezeNonEnd: !!spec.freezeNonEnd, startLayer: Math.min(...byLayer.keys()) };
}

/** Donor activations, receiver resid_pre / clean z and both models' LDs for one batch. */
interface BatchCaches {
  batch: TraceBatch;
  donor: Record<string, tf.Tensor>;
  receiver: Record<string, tf.Tensor>;
  fA: Float32Array;
  fB: Float32Array;
}

/** Evaluates many CMAP variants, batched; returns per-variant mean patched LD and the two baselines. */
async function runCmap(receiver: GPT2, donor: GPT2, set: TraceSet, variants: Variant[], opts: CmapOptions): Promise<{ fA: number; fB: number; patched: number[] }> {
  checkSameArchitecture(receiver.config, donor.config);
  if (totalPrompts(set) === 0) throw new Error('cmap: the trace set has no prompts');
  const L = receiver.config.n_layer;
  const kinds = new Set(variants.flatMap((v) => v.patches.map((p) => p.kind)));
  const donorNames = [...kinds].flatMap((k) => [...Array(L).keys()].map((l) => HOOK_OF[k](l)));
  const freeze = variants.some((v) => v.freezeNonEnd);
  const receiverNames = [...residPreNames(L), ...(freeze ? [...Array(L).keys()].map((l) => hookName.z(l)) : [])];
  const perVariant: Float32Array[][] = variants.map(() => []);
  const fA: Float32Array[] = [];
  const fB: Float32Array[] = [];
  for (const batch of set) {
    const d = await cachedRun(donor, batch, 'clean', donorNames);
    const r = await cachedRun(receiver, batch, 'clean', receiverNames);
    const caches: BatchCaches = { batch, donor: d.cache, receiver: r.cache, fA: r.ld, fB: d.ld };
    try {
      fA.push(r.ld);
      fB.push(d.ld);
      const lds = await runVariants(receiver, batch, {
        count: variants.length,
        startLayerOf: (v) => variants[v].startLayer,
        residPreAt: (l) => caches.receiver[hookName.residPre(l)],
        hooksFor: (vs) => cmapHooks(receiver.config, caches, vs.map((v) => variants[v])),
        maxRowsPerPass: opts.maxRowsPerPass,
        memoryBudgetMB: opts.memoryBudgetMB,
      });
      lds.forEach((x, v) => perVariant[v].push(x));
    } finally {
      disposeAll(d.cache);
      disposeAll(r.cache);
    }
    opts.onProgress?.(fA.length, set.length);
  }
  return { fA: meanOver(fA), fB: meanOver(fB), patched: perVariant.map((a) => meanOver(a)) };
}

/** Hook functions applying each variant's patches to its rows of the tiled batch. */
function cmapHooks(c: ModelConfig, caches: BatchCaches, variants: Variant[]): Record<string, HookFn> {
  const { n: B, T } = caches.batch;
  const H = c.n_head;
  const k = variants.length;
  const byHook = new Map<string, { kind: CmapKind; layer: number; mask: Float32Array }>();
  variants.forEach((v, j) => {
    for (const p of v.patches) {
      const name = HOOK_OF[p.kind](p.layer);
      if (!byHook.has(name)) byHook.set(name, { kind: p.kind, layer: p.layer, mask: new Float32Array(k * B * T * H) });
      const mask = byHook.get(name)!.mask;
      for (let b = 0; b < B; b++) {
        const row = j * B + b;
        const positions = p.positions === 'all' ? [...Array(T).keys()] : [caches.batch.end[b]];
        for (const pos of positions) {
          for (const h of p.heads) {
            // [B,T,H,*] hooks index (row, pos, head); the pattern hook [B,H,Tq,*] indexes (row, head, query pos)
            const i = p.kind === 'pattern' ? (row * H + h) * T + pos : (row * T + pos) * H + h;
            mask[i] = 1;
          }
        }
      }
    }
  });
  const hooks: Record<string, HookFn> = {};
  for (const [name, { kind, mask }] of byHook) {
    hooks[name] = (value) => {
      const shape = kind === 'pattern' ? [k * B, H, T, 1] : [k * B, T, H, 1];
      const m = tf.tensor(mask, shape);
      const src = tileRows(caches.donor[name], k);
      return tf.add(tf.mul(value, tf.sub(1, m)), tf.mul(src, m));
    };
  }
  if (variants.some((v) => v.freezeNonEnd)) {
    // Reset z at non-END positions to the receiver's clean z, in the rows of variants that ask for it, from their first patched layer on.
    for (let l = 0; l < c.n_layer; l++) {
      const frozen = new Float32Array(k * B * T);
      let any = false;
      variants.forEach((v, j) => {
        if (!v.freezeNonEnd || l < v.startLayer) return;
        any = true;
        for (let b = 0; b < B; b++) for (let t = 0; t < T; t++) if (t !== caches.batch.end[b]) frozen[(j * B + b) * T + t] = 1;
      });
      if (!any) continue;
      const name = hookName.z(l);
      const patch = hooks[name];
      hooks[name] = (value, n) => {
        const patched = patch ? (patch(value, n) as tf.Tensor) : value;
        const m = tf.tensor4d(frozen, [k * B, T, 1, 1]);
        const clean = tileRows(caches.receiver[name], k);
        return tf.add(tf.mul(patched, tf.sub(1, m)), tf.mul(clean, m));
      };
    }
  }
  return hooks;
}

const normalise = (patched: number, fA: number, fB: number) => (fB === fA ? NaN : (patched - fA) / (fB - fA));

/** CMAP for head sets (several kinds, several layers per set), one result per set. */
export async function cmapSets(receiver: GPT2, donor: GPT2, set: TraceSet, specs: readonly CmapSetSpec[], opts: CmapOptions = {}): Promise<CmapSetResult[]> {
  const variants = specs.map((s) => variantOf(s, receiver.config));
  const { fA, fB, patched } = await runCmap(receiver, donor, set, variants, opts);
  return specs.map((s, i) => ({
    name: s.name ?? `${s.kinds.join('+')}@${s.heads.map(headLabel).join(',')}`,
    heads: s.heads.map(headLabel),
    kinds: [...s.kinds],
    positions: s.positions ?? 'all',
    freezeNonEnd: !!s.freezeNonEnd,
    fReceiver: fA,
    fDonor: fB,
    patched: patched[i],
    delta: patched[i] - fA,
    normalised: normalise(patched[i], fA, fB),
  }));
}

export interface CmapHeadsOptions extends CmapOptions {
  kind?: CmapKind; // default 'z'
  positions?: CmapPositions; // default 'all'
}

/** Per-head CMAP sweep: each head's `kind` (at all positions or END) from donor B into receiver A. */
export async function cmapHeads(receiver: GPT2, donor: GPT2, set: TraceSet, opts: CmapHeadsOptions = {}): Promise<CmapSweep> {
  const c = receiver.config;
  const kind = opts.kind ?? 'z';
  const positions = opts.positions ?? 'all';
  const heads = allHeads(c);
  const variants = heads.map((h) => variantOf({ heads: [h], kinds: [kind], positions }, c));
  const { fA, fB, patched } = await runCmap(receiver, donor, set, variants, opts);
  const base = {
    method: `cmap/${kind}`,
    axes: ['layer', 'head'],
    shape: [c.n_layer, c.n_head],
    settings: { kind, positions, prompts: totalPrompts(set), tokens: 'clean' },
  };
  const baselines = { receiver: fA, donor: fB };
  const what = `donor B's ${kind} of one head (${positions === 'all' ? 'all positions' : 'END'}) patched into receiver A`;
  return {
    fReceiver: fA,
    fDonor: fB,
    patched: makeScores({ ...base, values: Float32Array.from(patched), metric: { name: 'logit_diff', form: 'value', description: what, baselines } }),
    delta: makeScores({ ...base, values: Float32Array.from(patched, (p) => p - fA), metric: { name: 'logit_diff', form: 'delta', description: `${what}: F_A[h<-B] - F_A`, baselines } }),
    normalised: makeScores({
      ...base,
      values: Float32Array.from(patched, (p) => normalise(p, fA, fB)),
      metric: { name: 'logit_diff', form: 'normalised', normalised: CMAP_NORMALISED, description: what, baselines },
    }),
  };
}
