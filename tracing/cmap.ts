// Cross-model activation patching (CMAP, ioi-paper §3.11, §6.3): run receiver model A on the clean prompts with
// some of its head activations (z, q, k, v, or the attention pattern) replaced by donor model B's on the same tokens.
//   ΔCMAP = F_A[c←B] − F_A,   normalised = (F_A[c←B] − F_A) / (F_B − F_A)
import { tf } from '../model/engine';
import { ModelConfig } from '../model/config';
import { GPT2 } from '../model/gpt2';
import { hookName } from '../model/hook-names';
import { TraceBatch, TraceSet, totalPrompts } from './batch';
import { allHeads, checkHead, HeadRef, headLabel } from './heads';
import { makeScores, Scores } from './scores';
import {
  DEFAULT_MEMORY_BUDGET_MB, HookPlan, ItemProgress, PassOptions, RunCache, cacheRun, checkBatch, disposeAll, fitToBudget, meanOver, residPreNames, runVariants,
} from './batched';

export type CmapKind = 'z' | 'q' | 'k' | 'v' | 'pattern';
export const CMAP_KINDS: readonly CmapKind[] = ['z', 'q', 'k', 'v', 'pattern'];
/** Positions patched: every position, or only END (for 'pattern': the END query row). */
export type CmapPositions = 'all' | 'END';

export const CMAP_NORMALISED = '(F_A[c<-B] - F_A) / (F_B - F_A)';

const HOOK_OF: Record<CmapKind, (l: number) => string> = { z: hookName.z, q: hookName.q, k: hookName.k, v: hookName.v, pattern: hookName.pattern };

export type CmapOptions = PassOptions & {
  /** Variant evaluations (variants × prompt batches) done of all, after every pass. */
  onProgress?: ItemProgress;
  /** Both models' clean runs cached once (prepareCmap) and shared by several sweeps; the caller disposes them. */
  caches?: CmapCaches;
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

/** Donor activations, receiver resid_pre / clean z and both models' LDs, per prompt batch. */
export interface CmapCaches {
  batches: { batch: TraceBatch; donor: RunCache; receiver: RunCache }[];
  kinds: Set<CmapKind>;
  freeze: boolean;
  dispose(): void;
}

/** Caches what CMAP variants of these kinds need (every layer), on both models' clean runs of the set. */
export function prepareCmap(receiver: GPT2, donor: GPT2, input: TraceSet, kinds: Iterable<CmapKind>, freeze: boolean, o: PassOptions = {}): CmapCaches {
  checkSameArchitecture(receiver.config, donor.config);
  if (totalPrompts(input) === 0) throw new Error('cmap: the trace set has no prompts');
  const L = receiver.config.n_layer;
  const kindSet = new Set(kinds);
  const donorNames = [...kindSet].flatMap((k) => [...Array(L).keys()].map((l) => HOOK_OF[k](l)));
  const receiverNames = [...residPreNames(L), ...(freeze ? [...Array(L).keys()].map((l) => hookName.z(l)) : [])];
  const batches: CmapCaches['batches'] = [];
  const dispose = () => batches.forEach((c) => (disposeAll(c.donor.cache), disposeAll(c.receiver.cache)));
  try {
    for (const batch of fitToBudget(receiver, input, o.memoryBudgetMB ?? DEFAULT_MEMORY_BUDGET_MB)) {
      checkBatch(receiver, batch);
      const d = cacheRun(donor, batch, 'clean', donorNames);
      batches.push({ batch, donor: d, receiver: cacheRun(receiver, batch, 'clean', receiverNames) });
    }
  } catch (e) {
    dispose();
    throw e;
  }
  return { batches, kinds: kindSet, freeze, dispose };
}

/** Evaluates many CMAP variants, batched; returns per-variant mean patched LD and the two baselines. */
async function runCmap(receiver: GPT2, donor: GPT2, set: TraceSet, variants: Variant[], opts: CmapOptions): Promise<{ fA: number; fB: number; patched: number[] }> {
  const kinds = variants.flatMap((v) => v.patches.map((p) => p.kind));
  const freeze = variants.some((v) => v.freezeNonEnd);
  const shared = opts.caches;
  if (shared && (kinds.some((k) => !shared.kinds.has(k)) || (freeze && !shared.freeze))) {
    throw new Error(`cmap: the shared caches hold kinds ${[...shared.kinds].join(', ')}${shared.freeze ? ' (+ frozen z)' : ''}; these variants need ${[...new Set(kinds)].join(', ')}${freeze ? ' (+ frozen z)' : ''}`);
  }
  const caches = shared ?? prepareCmap(receiver, donor, set, kinds, freeze, opts);
  try {
    const perVariant: Float32Array[][] = variants.map(() => []);
    const total = variants.length * caches.batches.length;
    let done = 0;
    for (const c of caches.batches) {
      const base = done;
      const lds = runVariants(receiver, c.batch, {
        count: variants.length,
        startLayerOf: (v) => variants[v].startLayer,
        residPreAt: (l) => c.receiver.cache[hookName.residPre(l)],
        plansFor: (vs) => cmapPlans(receiver.config, c, vs.map((v) => variants[v])),
        maxRowsPerPass: opts.maxRowsPerPass,
        memoryBudgetMB: opts.memoryBudgetMB,
        maxCopies: opts.maxCopies,
        onPass: (d) => opts.onProgress?.(base + d, total),
      });
      done += variants.length;
      lds.forEach((x, v) => perVariant[v].push(x));
      await new Promise<void>((r) => setImmediate(r)); // let a heartbeat or cancel through between batches
    }
    return { fA: meanOver(caches.batches.map((c) => c.receiver.ld)), fB: meanOver(caches.batches.map((c) => c.donor.ld)), patched: perVariant.map((a) => meanOver(a)) };
  } finally {
    if (!shared) caches.dispose();
  }
}

/** Hook plans applying each variant's patches to its rows of the tiled batch (then the non-END freeze). */
function cmapPlans(c: ModelConfig, caches: CmapCaches['batches'][number], variants: Variant[]): Record<string, HookPlan[]> {
  const { n: B, T } = caches.batch;
  const H = c.n_head;
  const k = variants.length;
  const byHook = new Map<string, Float32Array>();
  variants.forEach((v, j) => {
    for (const p of v.patches) {
      const name = HOOK_OF[p.kind](p.layer);
      if (!byHook.has(name)) byHook.set(name, new Float32Array(k * B * T * H));
      const mask = byHook.get(name)!;
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
  const plans: Record<string, HookPlan[]> = {};
  for (const [name, mask] of byHook) plans[name] = [{ source: caches.donor.cache[name], mask }];
  if (variants.some((v) => v.freezeNonEnd)) {
    // Reset z at non-END positions to the receiver's clean z, in the rows of variants that ask for it, from their first patched layer on.
    for (let l = 0; l < c.n_layer; l++) {
      const frozen = new Float32Array(k * B * T * H);
      let any = false;
      variants.forEach((v, j) => {
        if (!v.freezeNonEnd || l < v.startLayer) return;
        any = true;
        for (let b = 0; b < B; b++) for (let t = 0; t < T; t++) if (t !== caches.batch.end[b]) frozen.fill(1, ((j * B + b) * T + t) * H, ((j * B + b) * T + t + 1) * H);
      });
      if (!any) continue;
      const name = hookName.z(l);
      (plans[name] ??= []).push({ source: caches.receiver.cache[name], mask: frozen });
    }
  }
  return plans;
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
