// Exact activation patching over several threads: wasm in Node runs on one core, so the sweep's layers are shared
// out to worker threads (each with its own wasm instance and a copy of the weights taken from one SharedArrayBuffer)
// plus the calling thread. Threads claim layers from a shared counter, cheapest last (a pass starts at the patched
// layer, so low layers cost most). Each layer is computed exactly as the single-thread sweep computes it (same
// batches, same passes), and the per-batch values are merged into a complete sweep state that
// activationPatchingPrepared turns into the result: the same numbers, bit for bit, on the same backend.
import * as fs from 'node:fs';
import * as os from 'node:os';
import { activeBackend, BackendName, initBackend, tf } from '../model/engine';
import { ModelConfig } from '../model/config';
import { GPT2, Params, paramShapes } from '../model/gpt2';
import { hookName } from '../model/hook-names';
import { JobHandle, JobHandlers, registerJob, startJob } from '../jobs/offthread';
import { TraceBatch, TraceSet } from './batch';
import {
  ACTIVATION_TARGETS, ActivationPatchingOptions, PatchingResult, PatchingStats, activationPatching, activationPatchingPrepared, asSet, ldRows,
} from './activation';
import { DEFAULT_MEMORY_BUDGET_MB, PreparedBatch, disposePrepared, fitToBudget, prepareBatch } from './batched';
import { SweepAbortedError, SweepState, emptySweepState } from './sweep';

/** The job kind of one thread's share (jobs/offthread.ts). */
export const PATCHING_SHARE_JOB = registerJob('patching-share', __filename, 'runPatchingShare');

export interface ParallelOptions {
  /**
   * Threads that compute, the calling thread included unless callerComputes is false. 'auto' (default):
   * min(2, cores) when the sweep is big enough to repay starting workers (sweepGflop ≥ MIN_PARALLEL_GFLOP), else 1.
   */
  threads?: number | 'auto';
  /**
   * The calling thread computes a share too (default true). false: `threads` workers do all of the sweep and the
   * caller's event loop stays free (it only prepares the clean/corrupt runs and merges).
   */
  callerComputes?: boolean;
  /**
   * The set's clean and corrupt runs already cached (e.g. shared by a trace stage; they must hold the target's
   * hooks); the caller keeps ownership. Workers cache their own from the same batches.
   */
  prepared?: PreparedBatch[];
  /** Components done of all (single-thread sweeps: after every pass). */
  onProgress?: (done: number, total: number) => void;
}

/** The weights of a model in one SharedArrayBuffer (float32, paramShapes order): every thread reads the same bytes. */
export interface SharedWeights {
  config: ModelConfig;
  buffer: SharedArrayBuffer;
  entries: { name: string; offset: number; shape: number[] }[];
}

export interface ThreadReport {
  /** 0 = the calling thread, 1… = workers. */
  thread: number;
  /** Indexes into the sweep's layer list, in the order computed. */
  layers: number[];
  /** Start of the thread to its first claim (backend, weights, clean/corrupt caches). */
  setupMs: number;
  computeMs: number;
  /** CPU time of this thread over setup and compute (Linux; null elsewhere): the wall time it needs on a free core. */
  cpuMs: number | null;
}

export interface ParallelPatchingResult extends PatchingResult {
  parallel: { threads: number; backend: BackendName; perThread: ThreadReport[]; note?: string };
}

/** One layer's share of the sweep: per-batch values of its components (batch-major, as in a sweep state). */
interface LayerValues {
  unit: number;
  values: (number | null)[];
  stats: PatchingStats;
  /** With options.perPrompt: the layer's per-prompt patched LDs [prompt × component of the layer]. */
  rows?: Float32Array;
}

interface ShareInput {
  backend: BackendName;
  weights: SharedWeights;
  set: TraceSet;
  options: ActivationPatchingOptions;
  layers: number[];
  /** Units (indexes into `layers`) in claim order. */
  order: number[];
  /** Int32 [next claim, failed flag]. */
  control: SharedArrayBuffer;
}

interface ShareOutput {
  done: LayerValues[];
  setupMs: number;
  computeMs: number;
  cpuMs: number | null;
}

const NEXT = 0;
const FAILED = 1;

/** CPU time of the calling thread in ms (Linux /proc/thread-self/stat, 10 ms ticks), or null. */
export function threadCpuMs(): number | null {
  try {
    const fields = fs.readFileSync('/proc/thread-self/stat', 'utf8').split(') ')[1].split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // utime + stime, USER_HZ = 100
  } catch {
    return null;
  }
}

const cpuSince = (c0: number | null) => {
  const c = threadCpuMs();
  return c === null || c0 === null ? null : c - c0;
};

export function defaultThreads(): number {
  return Math.max(1, Math.min(2, os.availableParallelism()));
}

/** Below this much work (≈ 8 s on one wasm core) a worker's start (≈ 0.5–2 s: tfjs, wasm, weights, clean/corrupt runs) eats most of the gain. */
export const MIN_PARALLEL_GFLOP = 300;

/**
 * Approximate work of an exact sweep, in GFLOP of block matmuls: each variant runs the blocks from its layer up,
 * over every prompt token (2·12·d² per token per block; attention and the END-only top block ignored).
 */
export function sweepGflop(model: Pick<GPT2, 'config'>, set: TraceSet, o: Pick<ActivationPatchingOptions, 'target' | 'layers' | 'positions'>): number {
  const { n_layer: L, n_head: H, d_model: d } = model.config;
  const tokens = set.reduce((a, b) => a + b.n * b.T, 0);
  const positions = o.positions === undefined || o.positions === 'each' ? set[0].T : o.positions.length;
  const perLayer = o.target === 'head_z' ? H : o.target === 'head_z_pos' ? H * positions : positions;
  const blockRuns = (o.layers ?? [...Array(L).keys()]).reduce((a, l) => a + perLayer * (L - l), 0);
  return (blockRuns * tokens * 24 * d * d) / 1e9;
}

/** Copies every parameter into one SharedArrayBuffer. */
export function shareWeights(model: GPT2): SharedWeights {
  const shapes = paramShapes(model.config);
  const total = shapes.reduce((a, [, s]) => a + s.reduce((x, y) => x * y, 1), 0);
  const buffer = new SharedArrayBuffer(4 * total);
  const all = new Float32Array(buffer);
  const entries: SharedWeights['entries'] = [];
  let offset = 0;
  for (const [name, shape] of shapes) {
    all.set(model.params[name].dataSync() as Float32Array, offset);
    entries.push({ name, offset, shape });
    offset += shape.reduce((x, y) => x * y, 1);
  }
  return { config: { ...model.config }, buffer, entries };
}

/** A model on the current thread's backend from shared weights (copied into this backend's memory). */
export function modelFromShared(w: SharedWeights): GPT2 {
  const all = new Float32Array(w.buffer);
  const params: Params = {};
  for (const { name, offset, shape } of w.entries) {
    const size = shape.reduce((x, y) => x * y, 1);
    const t = tf.tensor(all.subarray(offset, offset + size), shape, 'float32');
    params[name] = tf.variable(t, false);
    t.dispose();
  }
  return new GPT2(w.config, params);
}

/** The cached hooks a target patches at the given layers (resid_pre is always cached). */
function hooksOf(target: ActivationPatchingOptions['target'], layers: number[]): string[] {
  const of: Record<ActivationPatchingOptions['target'], ((l: number) => string) | null> = {
    head_z: hookName.z, head_z_pos: hookName.z, resid_pre: null, attn_out: hookName.attnOut, mlp_out: hookName.mlpOut,
  };
  const f = of[target];
  return f ? [...new Set(layers)].map(f) : [];
}

function prepareAll(model: GPT2, set: TraceSet, o: ActivationPatchingOptions, layers: number[]): PreparedBatch[] {
  const hooks = hooksOf(o.target, layers);
  const prepared: PreparedBatch[] = [];
  try {
    for (const b of set) prepared.push(prepareBatch(model, b, hooks));
    return prepared;
  } catch (e) {
    prepared.forEach(disposePrepared);
    throw e;
  }
}

/** One layer of the sweep exactly as the whole sweep runs it; the sweep's final save holds its per-batch values. */
async function sweepLayer(model: GPT2, prepared: PreparedBatch[], o: ActivationPatchingOptions, layers: number[], unit: number): Promise<LayerValues> {
  let saved: SweepState | undefined;
  const r = await activationPatchingPrepared(model, prepared, {
    ...o, layers: [layers[unit]], sweep: { save: (s) => void (saved = s), saveEvery: Number.MAX_SAFE_INTEGER },
  });
  if (!saved || saved.cursor !== saved.total) throw new Error(`parallel patching: layer ${layers[unit]} finished without a complete sweep state`);
  return { unit, values: saved.values, stats: r.stats, ...(r.perPrompt ? { rows: r.perPrompt.patched } : {}) };
}

/** Claims and computes layers until none is left or another thread failed. */
async function claimLoop(model: GPT2, prepared: PreparedBatch[], o: ActivationPatchingOptions, layers: number[], order: number[],
  control: Int32Array, aborted: () => boolean = () => false): Promise<LayerValues[]> {
  const done: LayerValues[] = [];
  for (;;) {
    if (Atomics.load(control, FAILED) !== 0 || aborted()) break;
    const i = Atomics.add(control, NEXT, 1);
    if (i >= order.length) break;
    done.push(await sweepLayer(model, prepared, o, layers, order[i]));
  }
  return done;
}

/** Entry point of the 'patching-share' job kind: one worker thread's share. */
export async function runPatchingShare(input: ShareInput, handlers: JobHandlers): Promise<ShareOutput> {
  const control = new Int32Array(input.control);
  const c0 = threadCpuMs();
  const t0 = performance.now();
  let model: GPT2 | undefined;
  let prepared: PreparedBatch[] = [];
  try {
    await initBackend(input.backend);
    model = modelFromShared(input.weights);
    prepared = prepareAll(model, input.set, input.options, input.layers);
    const t1 = performance.now();
    const done = await claimLoop(model, prepared, input.options, input.layers, input.order, control, () => handlers.signal.aborted);
    return { done, setupMs: t1 - t0, computeMs: performance.now() - t1, cpuMs: cpuSince(c0) };
  } catch (e) {
    Atomics.store(control, FAILED, 1); // the other threads stop claiming
    throw e;
  } finally {
    prepared.forEach(disposePrepared);
    model?.dispose();
  }
}

/** The key activationPatchingPrepared gives this sweep: read from the state of a sweep aborted before its first pass. */
async function sweepKeyOf(model: GPT2, prepared: PreparedBatch[], o: ActivationPatchingOptions): Promise<{ key: string; total: number }> {
  const stop = new AbortController();
  stop.abort();
  try {
    await activationPatchingPrepared(model, prepared, { ...o, sweep: { signal: stop.signal } });
  } catch (e) {
    if (e instanceof SweepAbortedError) return { key: e.state.key, total: e.state.total };
    throw e;
  }
  throw new Error('parallel patching: the key probe ran a sweep instead of stopping');
}

function checkOptions(model: GPT2, o: ActivationPatchingOptions, threads: number): number[] {
  if (!(Number.isInteger(threads) && threads >= 1)) throw new Error(`threads: expected a positive integer, got ${threads}`);
  if (o.sweep) throw new Error('parallel patching: sweep control (resume, abort, progress) is not supported with threads > 1; use threads: 1');
  if (!ACTIVATION_TARGETS.includes(o.target)) throw new Error(`target: expected one of ${ACTIVATION_TARGETS.join(', ')}, got '${o.target}'`);
  const direction = o.direction ?? 'noising';
  if (direction !== 'noising' && direction !== 'denoising') throw new Error(`direction: expected 'noising' or 'denoising', got '${direction}'`);
  const L = model.config.n_layer;
  const layers = o.layers ?? [...Array(L).keys()];
  for (const l of layers) if (!(Number.isInteger(l) && l >= 0 && l < L)) throw new Error(`layers: ${l} is outside [0, ${L})`);
  return layers;
}

/**
 * activationPatching split over `threads` threads (the caller's and threads − 1 workers). Same result as
 * activationPatching on the same backend. The native 'tensorflow' backend already uses every core and is not
 * loaded in workers: there the sweep runs on the calling thread. Sweep control (resume) is single-thread only.
 */
export async function activationPatchingParallel(model: GPT2, input: TraceSet | TraceBatch, o: ActivationPatchingOptions,
  p: ParallelOptions = {}): Promise<ParallelPatchingResult> {
  const requested = p.threads === undefined || p.threads === 'auto'
    ? (sweepGflop(model, asSet(input), o) >= MIN_PARALLEL_GFLOP ? defaultThreads() : 1)
    : p.threads;
  const layers = checkOptions(model, o, requested);
  const backend = activeBackend();
  const callerComputes = backend === 'tensorflow' || p.callerComputes !== false;
  const threads = backend === 'tensorflow' ? 1 : Math.min(requested, layers.length);
  const t0 = performance.now();
  if (threads <= 1 && callerComputes) {
    const sweep = p.onProgress ? { onProgress: p.onProgress } : undefined;
    const r = p.prepared ? await activationPatchingPrepared(model, p.prepared, { ...o, sweep }) : await activationPatching(model, input, { ...o, sweep });
    const note = backend === 'tensorflow' && requested > 1 ? 'the tensorflow backend uses every core itself: one thread' : undefined;
    const perThread = [{ thread: 0, layers: layers.map((_, i) => i), setupMs: 0, computeMs: performance.now() - t0, cpuMs: null }];
    return { ...r, parallel: { threads: 1, backend, perThread, ...(note ? { note } : {}) } };
  }

  const tMain = performance.now();
  const c0 = threadCpuMs(); // this thread's setup: weights to share, clean/corrupt runs
  const set = p.prepared ? p.prepared.map((x) => x.batch) : fitToBudget(model, asSet(input), o.memoryBudgetMB ?? DEFAULT_MEMORY_BUDGET_MB);
  // Claim order: by start layer, low (expensive) first; ties keep list order.
  const order = layers.map((l, i) => [l, i]).sort((a, b) => a[0] - b[0] || a[1] - b[1]).map(([, i]) => i);
  const control = new Int32Array(new SharedArrayBuffer(8));
  const shareInput: ShareInput = { backend, weights: shareWeights(model), set, options: { ...o }, layers, order, control: control.buffer as SharedArrayBuffer };
  const handles: JobHandle<ShareOutput>[] = [];
  let prepared: PreparedBatch[] = [];
  try {
    const workers = callerComputes ? threads - 1 : threads;
    for (let w = 0; w < workers; w++) handles.push(startJob<ShareOutput>(PATCHING_SHARE_JOB, shareInput));
    // Settled outcomes (never rejecting): a worker failing while this thread computes is read after its loop.
    const outcomes = handles.map((h, w) => h.result.then(
      (out) => ({ out }),
      (e: unknown) => {
        Atomics.store(control, FAILED, 1);
        const err = e instanceof Error ? e : new Error(String(e));
        return { error: new Error(`parallel patching: worker thread ${w + 1} of ${workers} failed: ${err.message}`, { cause: err }) };
      },
    ));
    prepared = p.prepared ?? prepareAll(model, set, o, layers);
    const tClaim = performance.now();
    let own: LayerValues[];
    try {
      own = callerComputes ? await claimLoop(model, prepared, o, layers, order, control) : [];
    } catch (e) {
      Atomics.store(control, FAILED, 1);
      throw e;
    }
    const tDone = performance.now();
    const mainCpu = cpuSince(c0);
    const results = await Promise.all(outcomes);
    const failed = results.find((r): r is { error: Error } => 'error' in r);
    if (failed) throw failed.error;
    const outs = results.map((r) => (r as { out: ShareOutput }).out);
    const perThread: ThreadReport[] = [
      ...(callerComputes ? [{ thread: 0, layers: own.map((d) => d.unit), setupMs: tClaim - tMain, computeMs: tDone - tClaim, cpuMs: mainCpu }] : []),
      ...outs.map((out, w) => ({ thread: w + 1, layers: out.done.map((d) => d.unit), setupMs: out.setupMs, computeMs: out.computeMs, cpuMs: out.cpuMs })),
    ];
    const byUnit = new Map<number, LayerValues>();
    for (const d of [...own, ...outs.flatMap((out) => out.done)]) byUnit.set(d.unit, d);
    const missing = layers.map((_, i) => i).filter((i) => !byUnit.has(i));
    if (missing.length) throw new Error(`parallel patching: layers ${missing.map((i) => layers[i]).join(', ')} were not computed by any thread`);
    const r = await assemble(model, prepared, o, layers, byUnit, performance.now() - t0);
    return { ...r, parallel: { threads, backend, perThread } };
  } finally {
    if (!p.prepared) prepared.forEach(disposePrepared);
    await Promise.all(handles.map((h) => h.terminate().catch(() => undefined)));
  }
}

/** Merges per-layer values into one complete sweep state and lets activationPatchingPrepared build the result. */
async function assemble(model: GPT2, prepared: PreparedBatch[], o: ActivationPatchingOptions, layers: number[],
  byUnit: Map<number, LayerValues>, ms: number): Promise<PatchingResult> {
  const { key, total } = await sweepKeyOf(model, prepared, o);
  const nB = prepared.length;
  const nV = total / nB;
  const perLayer = nV / layers.length;
  const state = emptySweepState(key, total) as Omit<SweepState, 'values'> & { values: number[] };
  const stats: PatchingStats = { variants: nV, passes: 0, skipped: 0, copiesPerPass: [], ms };
  for (let u = 0; u < layers.length; u++) {
    const d = byUnit.get(u)!;
    if (d.values.length !== nB * perLayer) throw new Error(`parallel patching: layer ${layers[u]} returned ${d.values.length} values, expected ${nB}·${perLayer}`);
    for (let bi = 0; bi < nB; bi++) {
      for (let j = 0; j < perLayer; j++) state.values[bi * nV + u * perLayer + j] = d.values[bi * perLayer + j] ?? NaN; // NaN: not finite
    }
    stats.passes += d.stats.passes;
    stats.skipped += d.stats.skipped;
    stats.copiesPerPass.push(...d.stats.copiesPerPass);
  }
  state.cursor = total;
  const loaded = state as SweepState;
  const r = await activationPatchingPrepared(model, prepared, { ...o, sweep: { load: () => loaded } });
  if (o.perPrompt && layers.every((_, u) => byUnit.get(u)!.rows)) {
    const N = prepared.reduce((a, p) => a + p.batch.n, 0);
    const patched = new Float32Array(N * nV);
    for (let u = 0; u < layers.length; u++) {
      const rows = byUnit.get(u)!.rows!;
      for (let n = 0; n < N; n++) for (let j = 0; j < perLayer; j++) patched[n * nV + u * perLayer + j] = rows[n * perLayer + j];
    }
    r.perPrompt = { components: nV, patched, clean: ldRows(prepared, 'clean'), corrupt: ldRows(prepared, 'corrupt') };
  }
  // The sweep ran no pass here: the settings record the workers' pass sizes (the same object in both maps).
  r.patched.settings.copiesPerPass = [...new Set(stats.copiesPerPass)];
  r.normalised.settings.copiesPerPass = r.patched.settings.copiesPerPass;
  return { ...r, stats };
}
