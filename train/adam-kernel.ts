// The Adam moments in one WebAssembly memory and the update as a SIMD kernel (train/adam.wat): bit-identical to
// the JS loop (adamUpdate) and several times faster; at GPT-2 small the JS loop took most of a training step.
// Models whose moments do not fit a 4 GB wasm32 memory use the JS loop.
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
  readonly buffer: ArrayBuffer;
}
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Memory: new (d: { initial: number; maximum: number }) => WasmMemory;
  Instance: new (module: object, imports: object) => { exports: Record<string, unknown> };
}
const wasm = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

const PAGE = 65536;
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

export class WasmAdam {
  readonly m: Float32Array[];
  readonly v: Float32Array[];
  private readonly scratch: Float32Array;
  private readonly kernel: KernelFn;

  private constructor(sizes: number[], memory: WasmMemory, kernel: KernelFn) {
    this.kernel = kernel;
    let offset = 0;
    const take = (n: number) => {
      const a = new Float32Array(memory.buffer, offset, n);
      offset += Math.ceil((n * 4) / 16) * 16;
      return a;
    };
    this.m = sizes.map(take);
    this.v = sizes.map(take);
    this.scratch = take(Math.max(0, ...sizes));
  }

  /** Moments for parameters of these sizes, or undefined when they do not fit a wasm memory or wasm SIMD is missing. */
  static create(sizes: number[]): WasmAdam | undefined {
    const mod = wasmModule();
    const bytes = sizes.reduce((a, n) => a + 2 * Math.ceil((n * 4) / 16) * 16, 0) + Math.ceil((Math.max(0, ...sizes) * 4) / 16) * 16;
    const pages = Math.max(1, Math.ceil(bytes / PAGE));
    if (!mod || pages > MAX_PAGES) return undefined;
    let memory: WasmMemory;
    try {
      memory = new wasm.Memory({ initial: pages, maximum: pages });
    } catch {
      return undefined; // the address space refused it
    }
    const instance = new wasm.Instance(mod, { env: { memory } });
    return new WasmAdam(sizes, memory, instance.exports.adam as KernelFn);
  }

  /** The update of parameter i; returns the step (a view valid until the next update). */
  update(i: number, g: Float32Array, h: AdamHyper): Float32Array {
    const n = g.length;
    const step = this.scratch.subarray(0, n);
    step.set(g);
    const { b1, b2 } = h;
    this.kernel(step.byteOffset, this.m[i].byteOffset, this.v[i].byteOffset, n, b1, 1 - b1, b2, 1 - b2, h.vScale, h.eps, h.stepSize, h.gradScale);
    return step;
  }
}
