// This machine's training throughput on a backend, for the plan's cost model (cli/plan.ts). Measuring it (a few
// training steps of bench/training.ts's tiny shape) takes seconds, too slow for every `run`, so the result is kept in
// <plasticity home>/throughput.json (PLASTICITY_HOME, default ~/.plasticity), one entry per machine and kernel:
// backend, CPU model, core count, the versions of the tfjs packages that compute and the benchmark shape.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { ExperimentConfig } from '../config/schema';
import type { BackendName, BackendPreference } from '../model/engine';
import { resolveTfjsNode } from '../model/native-path';
import type { TrainShape } from '../bench/training';

export const THROUGHPUT_FILE = 'throughput.json';

export interface ThroughputKey {
  backend: BackendName;
  cpu: string;
  cores: number;
  /** Versions of the kernel code: tfjs-core and the backend package, plus the benchmark shape. */
  kernel: string;
}

export interface ThroughputEntry extends ThroughputKey {
  gflops: number;
  measuredAt: string;
}

export interface Throughput {
  gflops: number;
  measuredAt: string;
  /** Read from the cache file rather than measured by this call. */
  cached: boolean;
}

export function plasticityHome(env: NodeJS.ProcessEnv = process.env): string {
  return env.PLASTICITY_HOME?.trim() || path.join(os.homedir(), '.plasticity');
}

export function throughputFile(env: NodeJS.ProcessEnv = process.env): string {
  return path.join(plasticityHome(env), THROUGHPUT_FILE);
}

function packageVersion(spec: string): string {
  try {
    return (JSON.parse(fs.readFileSync(require.resolve(`${spec}/package.json`), 'utf8')) as { version: string }).version;
  } catch {
    return 'none';
  }
}

/** The backend `initBackend(preference)` would pick, without loading one (tensorflow when the native addon is built). */
export async function expectedBackend(preference: ExperimentConfig['backend'], env: NodeJS.ProcessEnv = process.env): Promise<BackendName> {
  const wanted = preference === 'auto' ? ((env.PLASTICITY_BACKEND as ExperimentConfig['backend'] | undefined) ?? 'auto') : preference;
  if (wanted !== 'auto') return wanted;
  const { nativeAvailable } = await import('../model/engine');
  return nativeAvailable() ? 'tensorflow' : 'wasm';
}

/** The benchmark's shape: bench/training.ts's tiny one; on the pure-JS cpu backend a smaller batch (steps there take many seconds). */
async function benchShape(backend: BackendName): Promise<TrainShape> {
  const { TRAIN_SHAPES } = await import('../bench/training');
  return backend === 'cpu' ? { ...TRAIN_SHAPES[0], batch: 4 } : TRAIN_SHAPES[0];
}

export async function throughputKey(backend: BackendName): Promise<ThroughputKey> {
  const native = resolveTfjsNode();
  const backendVersion =
    backend === 'tensorflow'
      ? `tfjs-node ${native ? (JSON.parse(fs.readFileSync(path.join(native, 'package.json'), 'utf8')) as { version: string }).version : 'none'}`
      : `tfjs-backend-${backend} ${packageVersion(`@tensorflow/tfjs-backend-${backend}`)}`;
  const cpus = os.cpus();
  return {
    backend,
    cpu: cpus[0]?.model.trim() ?? 'unknown',
    cores: cpus.length,
    kernel: `tfjs-core ${packageVersion('@tensorflow/tfjs-core')}, ${backendVersion}, bench ${JSON.stringify(await benchShape(backend))}`,
  };
}

const sameKey = (a: ThroughputKey, b: ThroughputKey) => a.backend === b.backend && a.cpu === b.cpu && a.cores === b.cores && a.kernel === b.kernel;

/** The cache file's entries; an unreadable or malformed file counts as empty (it is only a cache and is rewritten). */
export function readThroughputCache(file: string): ThroughputEntry[] {
  try {
    const parsed = JSON.parse(fs.readFileSync(file, 'utf8')) as { entries?: unknown };
    return Array.isArray(parsed.entries) ? (parsed.entries as ThroughputEntry[]).filter((e) => typeof e?.gflops === 'number' && e.gflops > 0) : [];
  } catch {
    return [];
  }
}

function writeThroughputCache(file: string, entries: ThroughputEntry[]): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify({ entries }, null, 2) + '\n');
  fs.renameSync(tmp, file);
}

/** Effective GFLOP/s of a real training step (bench/training.ts, its tiny shape) on the backend. */
export async function measureThroughput(backend: BackendPreference): Promise<number> {
  const { initBackend } = await import('../model/engine');
  const { benchTrainStep } = await import('../bench/training');
  const name = await initBackend(backend);
  const r = await benchTrainStep(name, await benchShape(name), name === 'cpu' ? 2 : 3);
  return Number(r.effective_gflops);
}

/**
 * The cached throughput of this machine on the config's backend, measuring (and caching) it when there is none or
 * `remeasure` is set. A cache that cannot be written is not an error: the measured value is still returned.
 */
export async function machineThroughput(
  preference: ExperimentConfig['backend'],
  opts: { remeasure?: boolean; file?: string; measure?: (b: BackendPreference) => Promise<number> } = {},
): Promise<Throughput> {
  const file = opts.file ?? throughputFile();
  const key = await throughputKey(await expectedBackend(preference));
  const entries = readThroughputCache(file);
  const hit = entries.find((e) => sameKey(e, key));
  if (hit && !opts.remeasure) return { gflops: hit.gflops, measuredAt: hit.measuredAt, cached: true };
  const gflops = await (opts.measure ?? measureThroughput)(preference); // auto keeps its fallback if the addon fails to load
  const entry: ThroughputEntry = { ...key, gflops, measuredAt: new Date().toISOString() };
  try {
    writeThroughputCache(file, [...entries.filter((e) => !sameKey(e, key)), entry]);
  } catch {
    /* read-only home: measure again next time */
  }
  return { gflops, measuredAt: entry.measuredAt, cached: false };
}
