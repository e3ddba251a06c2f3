// Backend ladder (tensorflow → wasm → cpu) and the wasm fixes the backend notes call for.
import * as tf from '@tensorflow/tfjs';
import * as path from 'node:path';
import { BACKEND_CHOICES, BACKEND_NAMES, type BackendName, type BackendPreference } from './backends';
import { resolveTfjsNode, setNativeEnvDefaults } from './native-path';

export { BACKEND_CHOICES, BACKEND_NAMES, type BackendName, type BackendPreference };

let active: BackendName | undefined;

/** Candidate module paths for the native addon: tfjs-node-gpu if installed, else tfjs-node (project-local build first). */
function nativeCandidates(): string[] {
  const out: string[] = [];
  try {
    out.push(path.dirname(require.resolve('@tensorflow/tfjs-node-gpu/package.json')));
  } catch {
    /* not installed */
  }
  const cpu = resolveTfjsNode();
  if (cpu) out.push(cpu);
  return out;
}

function tryLoadNative(): boolean {
  setNativeEnvDefaults();
  for (const candidate of nativeCandidates()) {
    try {
      require(candidate); // registers the 'tensorflow' backend with the shared tfjs-core
    } catch {
      continue;
    }
    if (tf.engine().registryFactory['tensorflow'] !== undefined) return true;
  }
  return false;
}

export function nativeAvailable(): boolean {
  return nativeCandidates().length > 0;
}

async function setWasm(): Promise<boolean> {
  const wasm = require('@tensorflow/tfjs-backend-wasm') as typeof import('@tensorflow/tfjs-backend-wasm');
  const dist = path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm'));
  wasm.setWasmPaths(dist + path.sep);
  registerWasmUnsortedSegmentSum();
  return tf.setBackend('wasm');
}

/**
 * Chooses and initialises a backend. `auto` walks the ladder; an explicit name fails loudly when unavailable.
 * The env var PLASTICITY_BACKEND overrides `auto`.
 */
export async function initBackend(preference: BackendPreference = 'auto', log?: (msg: string) => void): Promise<BackendName> {
  const wanted = preference === 'auto' ? ((process.env.PLASTICITY_BACKEND as BackendPreference | undefined) ?? 'auto') : preference;
  if (!BACKEND_CHOICES.includes(wanted)) {
    throw new Error(`backend: expected one of ${BACKEND_CHOICES.join(', ')}, got '${wanted}' (from PLASTICITY_BACKEND)`);
  }
  if (active && (wanted === 'auto' || wanted === active)) return active;
  const ladder: BackendName[] = wanted === 'auto' ? [...BACKEND_NAMES] : [wanted];
  for (const name of ladder) {
    let ok = false;
    if (name === 'tensorflow') ok = tryLoadNative() && (await tf.setBackend('tensorflow'));
    else if (name === 'wasm') ok = await setWasm();
    else ok = await tf.setBackend('cpu');
    if (ok) {
      await tf.ready();
      tf.env().set('PROD', true); // silences tfjs's "install the node backend" banner; skips debug-only checks
      if (name === 'tensorflow') tf.tidy(() => tf.add(tf.scalar(1), 1).dataSync()); // tfjs-node segfaults at thread exit if no op ever ran
      active = name;
      log?.(`tfjs backend: ${name}`);
      return name;
    }
    if (wanted !== 'auto') {
      const hint = name === 'tensorflow' ? ' (run `npm run setup:native` to build @tensorflow/tfjs-node)' : '';
      throw new Error(`backend: '${name}' is not available${hint}`);
    }
  }
  throw new Error('backend: no tfjs backend could be initialised');
}

export function activeBackend(): BackendName {
  if (!active) throw new Error('backend not initialised: call initBackend() first');
  return active;
}

/**
 * Fix 3 of the backend notes: wasm has no UnsortedSegmentSum (the gradient of gather). A JS scatter-add on the
 * wasm heap views is exact and O(N·d).
 */
function registerWasmUnsortedSegmentSum(): void {
  if (tf.getKernel('UnsortedSegmentSum', 'wasm')) return;
  tf.registerKernel({
    kernelName: 'UnsortedSegmentSum',
    backendName: 'wasm',
    kernelFunc: ({ inputs, attrs, backend }) => {
      const { x, segmentIds } = inputs as { x: tf.TensorInfo; segmentIds: tf.TensorInfo };
      const { numSegments } = attrs as unknown as { numSegments: number };
      // eslint-disable-next-line @typescript-eslint/no-explicit-any
      const wasmBackend = backend as any;
      const rows = segmentIds.shape.reduce((a, b) => a * b, 1);
      const inner = x.shape.slice(segmentIds.shape.length).reduce((a, b) => a * b, 1);
      const out = wasmBackend.makeOutput([numSegments, ...x.shape.slice(segmentIds.shape.length)], x.dtype);
      const outVals = wasmBackend.typedArrayFromHeap(out) as Float32Array;
      outVals.fill(0);
      const xVals = wasmBackend.typedArrayFromHeap(x) as Float32Array;
      const ids = wasmBackend.typedArrayFromHeap(segmentIds) as Int32Array;
      for (let r = 0; r < rows; r++) {
        const seg = ids[r];
        if (seg < 0 || seg >= numSegments) continue;
        const src = r * inner;
        const dst = seg * inner;
        for (let j = 0; j < inner; j++) outVals[dst + j] += xVals[src + j];
      }
      return out;
    },
  });
}

/** Fix 2: wasm's OneHot ignores dtype, so always one-hot as int32 and cast. */
export function oneHotF32(indices: tf.Tensor, depth: number): tf.Tensor {
  return tf.tidy(() => tf.cast(tf.oneHot(tf.cast(indices, 'int32') as tf.Tensor1D, depth), 'float32'));
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
const fastMatMulGrad = tf.customGrad(((a: tf.Tensor, b: tf.Tensor, save: tf.GradSaveFunc) => {
  save([a, b]);
  return {
    value: tf.matMul(a as tf.Tensor2D, b as tf.Tensor2D),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [sa, sb] = saved as tf.Tensor2D[];
      return [tf.matMul(dy as tf.Tensor2D, tf.transpose(sb)), tf.matMul(tf.transpose(sa), dy as tf.Tensor2D)];
    },
  };
}) as any);

/**
 * Fix 1: wasm runs BatchMatMul on XNNPACK only without transpose flags, and every matMul gradient uses them.
 * This 2-D matmul's gradient transposes explicitly first. Other backends use the stock op.
 */
export function matMul2d(a: tf.Tensor2D, b: tf.Tensor2D): tf.Tensor2D {
  if (active === 'wasm') return fastMatMulGrad(a, b) as tf.Tensor2D;
  return tf.matMul(a, b);
}

export { tf };
