// The Adam moments in one WebAssembly memory and the update as a SIMD kernel (train/adam.wat): bit-identical to
// the JS loop (adamUpdate) and several times faster; at GPT-2 small the JS loop took most of a training step.
// Models whose moments do not fit a 4 GB wasm32 memory use the JS loop.
import { Worker } from 'node:worker_threads';
import { ADAM_WASM_BASE64 } from './adam-wasm';

export interface AdamHyper {
  b1: number;
  b2: number;
  vScale: number;
  eps: number;
  stepSize: number;
  gradScale: number;
}

/** g becomes the step stepSize · m̂ / (√v̂ + eps), with the moments updated in place (float64 arithmetic, float32 storage). */
export function adamUpdate(g: Float32Array, m: Float32Array, v: Float32Array, h: AdamHyper): void {
  const { b1, b2, vScale, eps, stepSize, gradScale } = h;
  if (gradScale !== 1) for (let j = 0; j < g.length; j++) g[j] *= gradScale;
  for (let j = 0; j < g.length; j++) {
    const gj = g[j];
    const mj = b1 * m[j] + (1 - b1) * gj;
    const vj = b2 * v[j] + (1 - b2) * gj * gj;
    m[j] = mj;
    v[j] = vj;
    g[j] = (mj / (Math.sqrt(vj) * vScale + eps)) * stepSize;
  }
}

// The WebAssembly global, typed here (the project's TypeScript libs do not declare it).
interface WasmMemory {
  readonly buffer: ArrayBuffer | SharedArrayBuffer;
}
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Memory: new (d: { initial: number; maximum: number; shared?: boolean }) => WasmMemory;
  Instance: new (module: object, imports: object) => { exports: Record<string, unknown> };
}
const wasm = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

const PAGE = 65536;
/** Bytes an array of n float32 takes in the wasm memory (16-byte aligned, so every array starts on a v128). */
const paddedBytes = (n: number) => Math.ceil((n * 4) / 16) * 16;
const MAX_PAGES = 65536;
let compiled: object | null | undefined;

function wasmModule(): object | null {
  if (compiled === undefined) {
    try {
      compiled = new wasm.Module(Buffer.from(ADAM_WASM_BASE64, 'base64'));
    } catch {
      compiled = null; // no wasm SIMD here
    }
  }
  return compiled;
}

type KernelFn = (g: number, m: number, v: number, n: number, b1: number, c1: number, b2: number, c2: number, vScale: number, eps: number, stepSize: number, gradScale: number) => void;

/** Parameters smaller than this are updated on the calling thread alone. */
const SPLIT_MIN = 1 << 16;
// Control block shared with the helper thread: [0] job number (−1: exit), [1] job done, [2..5] g, m, v, n.
const JOB = 0;
const DONE = 1;
const HELPER_SOURCE = `
const { workerData } = require('node:worker_threads');
const { module, memory, control, hyper } = workerData;
const adam = new WebAssembly.Instance(module, { env: { memory } }).exports.adam;
const c = new Int32Array(control);
const h = new Float64Array(hyper);
for (let seen = 0; ; ) {
  Atomics.wait(c, ${JOB}, seen);
  seen = Atomics.load(c, ${JOB});
  if (seen < 0) break;
  adam(c[2], c[3], c[4], c[5], h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7]);
  Atomics.store(c, ${DONE}, seen);
  Atomics.notify(c, ${DONE});
}`;

/**
 * Moments and a step buffer in one shared wasm memory; large parameters are split between the calling thread and
 * one helper thread (elementwise, so the split does not change a bit). Training runs in a job thread, so the
 * waits block that thread only.
 */
export class WasmAdam {
  readonly m: Float32Array[];
  readonly v: Float32Array[];
  private readonly scratch: Float32Array;
  private readonly kernel: KernelFn;
  private readonly control = new Int32Array(new SharedArrayBuffer(8 * 4));
  private readonly hyper = new Float64Array(new SharedArrayBuffer(8 * 8));
  private helper: Worker | undefined;
  private jobs = 0;

  private constructor(sizes: number[], memory: WasmMemory, module: object, kernel: KernelFn, threads: number) {
    this.kernel = kernel;
    let offset = 0;
    const take = (n: number) => {
      const a = new Float32Array(memory.buffer, offset, n);
      offset += paddedBytes(n);
      return a;
    };
    this.m = sizes.map(take);
    this.v = sizes.map(take);
    this.scratch = take(Math.max(0, ...sizes));
    if (threads > 1 && sizes.some((n) => n >= SPLIT_MIN)) {
      this.helper = new Worker(HELPER_SOURCE, { eval: true, workerData: { module, memory, control: this.control.buffer, hyper: this.hyper.buffer } });
      this.helper.unref();
    }
  }

  /**
   * Moments for parameters of these sizes, or undefined when they do not fit a wasm memory or wasm SIMD is missing.
   * `threads` 2 (default) splits large parameters with a helper thread.
   */
  static create(sizes: number[], threads = 2): WasmAdam | undefined {
    const mod = wasmModule();
    const bytes = sizes.reduce((a, n) => a + 2 * paddedBytes(n), 0) + paddedBytes(Math.max(0, ...sizes)); // m, v, step buffer
    const pages = Math.max(1, Math.ceil(bytes / PAGE));
    if (!mod || pages > MAX_PAGES) return undefined;
    let memory: WasmMemory;
    try {
      memory = new wasm.Memory({ initial: pages, maximum: pages, shared: true });
    } catch {
      return undefined; // the address space refused it
    }
    const instance = new wasm.Instance(mod, { env: { memory } });
    return new WasmAdam(sizes, memory, mod, instance.exports.adam as KernelFn, threads);
  }

  /** The update of parameter i; returns the step (a view valid until the next update). */
  update(i: number, g: Float32Array, h: AdamHyper): Float32Array {
    const n = g.length;
    const step = this.scratch.subarray(0, n);
    step.set(g);
    const args = [h.b1, 1 - h.b1, h.b2, 1 - h.b2, h.vScale, h.eps, h.stepSize, h.gradScale] as const;
    const [g0, m0, v0] = [step.byteOffset, this.m[i].byteOffset, this.v[i].byteOffset];
    if (!this.helper || n < SPLIT_MIN) {
      this.kernel(g0, m0, v0, n, ...args);
      return step;
    }
    const half = (n >> 2) << 1; // even, so the helper's part starts at a pair of the wasm loop
    const c = this.control;
    this.hyper.set(args);
    c[2] = g0 + half * 4;
    c[3] = m0 + half * 4;
    c[4] = v0 + half * 4;
    c[5] = n - half;
    const job = ++this.jobs;
    Atomics.store(c, JOB, job);
    Atomics.notify(c, JOB);
    this.kernel(g0, m0, v0, half, ...args);
    while (Atomics.load(c, DONE) !== job) Atomics.wait(c, DONE, Atomics.load(c, DONE));
    return step;
  }

  /** Stops the helper thread. */
  dispose(): void {
    if (!this.helper) return;
    Atomics.store(this.control, JOB, -1);
    Atomics.notify(this.control, JOB);
    void this.helper.terminate();
    this.helper = undefined;
  }
}
