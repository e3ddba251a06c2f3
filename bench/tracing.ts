// Tracing benchmark: exact per-head activation patching (144-head sweep) and attribution patching of a
// GPT-2-small-shaped model (random weights, 8 prompts × 16 tokens, corrupt at positions 2, 5, 9, END 15: the same
// setup as bench/peer/torch_patching.py), with speedups against the PyTorch per-component loop.
// The exact sweep also runs split over threads (tracing/parallel.ts; wasm is single-threaded in Node).
// Run alone: node dist/bench/tracing.js [--backend wasm|tensorflow|cpu] [--layers 0,11] [--peer FILE] [--threads N]
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { BackendPreference, initBackend, tf } from '../model/engine';
import { GPT2 } from '../model/gpt2';
import { GPT2_SMALL, ModelConfig } from '../model/config';
import { TraceBatch, tokensTensor } from '../tracing/batch';
import { activationPatching } from '../tracing/activation';
import { attributionPatching } from '../tracing/attribution';
import { DEFAULT_MEMORY_BUDGET_MB } from '../tracing/batched';
import { activationPatchingParallel, defaultThreads } from '../tracing/parallel';
import { spearman } from '../tracing/rank';

/** The peer's numbers: the issue's measurement unless bench/peer/results.json (torch_patching.py output) exists. */
export interface PeerNumbers {
  source: string;
  sweepS: number;
  msPerForward?: number;
  sweepCpuS?: number;
  attributionS?: number;
  attributionCpuS?: number;
}

export const ISSUE_PEER: PeerNumbers = { source: 'issue #4 (torch 2.13 CPU, 2 threads, same kind of machine)', sweepS: 48.5, msPerForward: 291 };

export interface TracingBenchOptions {
  backend?: BackendPreference;
  config?: ModelConfig;
  batch?: number;
  seq?: number;
  /** Restrict the exact sweep to these layers (quick runs); the full sweep is every layer. */
  layers?: number[];
  memoryBudgetMB?: number;
  attributionRepeats?: number;
  /** Threads of the parallel exact sweep (default min(2, cores)); 1 skips it. */
  threads?: number;
  peer?: PeerNumbers;
  /** Where to look for the peer's JSON when `peer` is not given. */
  peerFile?: string;
  log?: (msg: string) => void;
}

/** Reads torch_patching.py's JSON output (its per-head sweep and attribution numbers). */
export function readPeer(file: string): PeerNumbers | undefined {
  if (!fs.existsSync(file)) return undefined;
  const j = JSON.parse(fs.readFileSync(file, 'utf8'));
  const sweep = j.per_head_sweep;
  if (!sweep || typeof sweep.total_s !== 'number') throw new Error(`${file}: expected per_head_sweep.total_s (torch_patching.py output)`);
  return {
    source: file,
    sweepS: sweep.total_s,
    msPerForward: sweep.ms_per_forward,
    sweepCpuS: sweep.process_cpu_s,
    attributionS: j.attribution_patching?.median_s,
    attributionCpuS: j.attribution_patching?.median_process_cpu_s,
  };
}

function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
}

export function benchBatch(vocab: number, n: number, T: number): TraceBatch {
  const r = lcg(7);
  const tok = () => Math.floor(r() * vocab);
  const clean = Int32Array.from({ length: n * T }, tok);
  const corrupt = clean.slice();
  for (let b = 0; b < n; b++) for (const p of [2, 5, 9]) if (p < T - 1) corrupt[b * T + p] = tok();
  return { n, T, clean, corrupt, io: Int32Array.from({ length: n }, tok), s: Int32Array.from({ length: n }, tok), end: new Int32Array(n).fill(T - 1) };
}

/** Busy and total CPU ticks of the whole machine (Linux /proc/stat), to tell how much other processes took. */
function machineTicks(): { busy: number; total: number } | undefined {
  try {
    const t = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    const total = t.reduce((a, b) => a + b, 0);
    return { busy: total - t[3] - t[4], total };
  } catch {
    return undefined;
  }
}

async function timed<T>(f: () => Promise<T> | T): Promise<{ value: T; ms: number; cpuMs: number; otherCores?: number }> {
  const m0 = machineTicks();
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const value = await f();
  const ms = performance.now() - t0;
  const c = process.cpuUsage(c0);
  const m1 = machineTicks();
  const cpuMs = (c.user + c.system) / 1000;
  // cores busy with other processes meanwhile: machine busy share × cores − this process's CPU rate
  const otherCores = m0 && m1 && m1.total > m0.total ? round((os.cpus().length * (m1.busy - m0.busy)) / (m1.total - m0.total) - cpuMs / ms, 2) : undefined;
  return { value, ms, cpuMs, otherCores };
}

const round = (x: number, d = 1) => Math.round(x * 10 ** d) / 10 ** d;

export async function benchTracing(opts: TracingBenchOptions = {}): Promise<Record<string, unknown>> {
  const log = opts.log ?? (() => undefined);
  const backend = await initBackend(opts.backend ?? 'wasm');
  const config = opts.config ?? GPT2_SMALL;
  const n = opts.batch ?? 8;
  const T = opts.seq ?? 16;
  const peer = opts.peer ?? readPeer(opts.peerFile ?? path.resolve(__dirname, '..', '..', 'bench', 'peer', 'results.json')) ?? ISSUE_PEER;
  const model = GPT2.init(config, 1);
  const batch = benchBatch(config.vocab, n, T);
  const budget = opts.memoryBudgetMB ?? DEFAULT_MEMORY_BUDGET_MB;
  const loadBefore = os.loadavg();
  try {
    // Plain forward with END logits (what one loop iteration of the peer does, minus its full unembedding).
    const tokens = tokensTensor(batch, 'clean');
    const fwd = () => tf.tidy(() => model.run(tokens, { logitsAt: batch.end }).logits!).dataSync();
    fwd();
    const forward = await timed(fwd);
    tokens.dispose();
    log(`${backend}: forward ${round(forward.ms)} ms`);

    const layers = opts.layers;
    await activationPatching(model, batch, { target: 'head_z', layers: [config.n_layer - 1], memoryBudgetMB: budget }); // warm-up
    const sweep = await timed(() => activationPatching(model, batch, { target: 'head_z', layers, memoryBudgetMB: budget }));
    const exact = sweep.value;
    const nLayers = layers?.length ?? config.n_layer;
    const layerForwards = (layers ?? [...Array(config.n_layer).keys()]).reduce((a, l) => a + config.n_head * (config.n_layer - l), 0);
    log(`${backend}: exact sweep ${round(sweep.ms)} ms (${exact.stats.passes} passes)`);

    // The same sweep split over threads (workers start cold: their setup is part of the time). Not on tensorflow:
    // it already uses every core (and the parallel sweep would run single-threaded there).
    const threads = opts.threads ?? defaultThreads();
    const par = threads > 1 && backend !== 'tensorflow' ? await timed(() => activationPatchingParallel(model, batch, { target: 'head_z', layers, memoryBudgetMB: budget }, { threads })) : undefined;
    if (par) log(`${backend}: parallel exact sweep ${round(par.ms)} ms on ${par.value.parallel.threads} threads`);

    let attr = await attributionPatching(model, batch); // warm-up
    const runs: { ms: number; cpuMs: number }[] = [];
    for (let i = 0; i < (opts.attributionRepeats ?? 3); i++) {
      const t = await timed(() => attributionPatching(model, batch));
      runs.push(t);
      attr = t.value;
    }
    const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
    const attrMs = med(runs.map((r) => r.ms));
    const attrCpuMs = med(runs.map((r) => r.cpuMs));
    log(`${backend}: attribution ${round(attrMs)} ms`);
    const attrRows = layers ? layers.flatMap((l) => Array.from(attr.patched.values.slice(l * config.n_head, (l + 1) * config.n_head))) : Array.from(attr.patched.values);
    const rho = spearman(attrRows, exact.patched.values);

    const full = !layers || nLayers === config.n_layer;
    const sweepS = sweep.ms / 1000;
    return {
      backend,
      model: { n_layer: config.n_layer, d_model: config.d_model, n_head: config.n_head, vocab: config.vocab },
      batch: n,
      seq: T,
      memoryBudgetMB: budget,
      forwardEndLogitsMs: round(forward.ms),
      exactSweep: {
        heads: exact.stats.variants,
        layers: layers ?? 'all',
        wallS: round(sweepS, 3),
        cpuS: round(sweep.cpuMs / 1000, 3),
        otherProcessesCores: sweep.otherCores ?? null,
        passes: exact.stats.passes,
        copiesPerPass: [...new Set(exact.stats.copiesPerPass)],
        msPerHead: round(sweep.ms / exact.stats.variants),
        layerForwardsPerPrompt: layerForwards,
        msPerLayerForward: round(sweep.ms / layerForwards, 2),
      },
      parallelExactSweep: par ? {
        threads: par.value.parallel.threads,
        wallS: round(par.ms / 1000, 3),
        cpuS: round(par.cpuMs / 1000, 3), // every thread of the process
        otherProcessesCores: par.otherCores ?? null,
        perThread: par.value.parallel.perThread.map((t) => ({ thread: t.thread, layers: t.layers.map((i) => (layers ?? [...Array(config.n_layer).keys()])[i]), setupS: round(t.setupMs / 1000, 2), computeS: round(t.computeMs / 1000, 2), cpuS: t.cpuMs === null ? null : round(t.cpuMs / 1000, 2) })),
        maxAbsDiffVsSingle: Math.max(...Array.from(par.value.patched.values, (v, i) => Math.abs(v - exact.patched.values[i]))),
        speedupVsSingle: round(sweep.ms / par.ms, 2),
        ...(par.value.parallel.note ? { note: par.value.parallel.note } : {}),
      } : null,
      attribution: { medianMs: round(attrMs), medianCpuMs: round(attrCpuMs), runsMs: runs.map((r) => round(r.ms)) },
      attributionVsExactSpearman: round(rho, 4),
      peer,
      speedup: {
        // only a full sweep compares with the peer's 144 forwards
        exactSweepVsPeerLoop: full ? round(peer.sweepS / sweepS, 2) : null,
        parallelExactSweepVsPeerLoop: full && par ? round(peer.sweepS / (par.ms / 1000), 2) : null,
        exactSweepCpuVsPeerLoopCpu: full && peer.sweepCpuS ? round(peer.sweepCpuS / (sweep.cpuMs / 1000), 2) : null,
        attributionVsPeerLoop: round((peer.sweepS * 1000) / attrMs, 2),
        attributionVsPeerAttribution: peer.attributionS ? round((peer.attributionS * 1000) / attrMs, 2) : null,
      },
      targets: { exactSweepVsLoop: 3, attributionVsLoop: 20 },
      loadavg: { before: loadBefore.map((x) => round(x, 2)), after: os.loadavg().map((x) => round(x, 2)) },
    };
  } finally {
    model.dispose();
  }
}

function argValue(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

if (require.main === module) {
  const layers = argValue('--layers');
  const peerFile = argValue('--peer');
  benchTracing({
    backend: (argValue('--backend') as BackendPreference | undefined) ?? 'wasm',
    layers: layers ? layers.split(',').map(Number) : undefined,
    peer: peerFile ? (readPeer(peerFile) ?? (() => { throw new Error(`--peer: ${peerFile} does not exist`); })()) : undefined,
    memoryBudgetMB: argValue('--budget') ? Number(argValue('--budget')) : undefined,
    threads: argValue('--threads') ? Number(argValue('--threads')) : undefined,
    log: (m) => console.error(m),
  }).then((r) => console.log(JSON.stringify(r, null, 1)), (e) => {
    console.error((e as Error).stack ?? e);
    process.exit(1);
  });
}
