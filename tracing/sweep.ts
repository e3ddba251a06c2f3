// Resumable sweeps: a long list of work items computed in chunks; after each chunk the partial values and a cursor
// go to a caller-supplied save(); a later run with load() continues from the cursor instead of starting over.
import { createHash } from 'node:crypto';

/** What save() receives and load() returns. Plain JSON. */
export interface SweepState {
  kind: 'plasticity.sweep';
  version: 1;
  /** Fingerprint of everything the values depend on (method, settings, prompts, model); a mismatch refuses to resume. */
  key: string;
  total: number;
  /** Items [0, cursor) are done. */
  cursor: number;
  /** One number per item (null while not computed). */
  values: (number | null)[];
  chunksDone: number;
}

export interface SweepControl {
  /** Previous state, if any (e.g. read from a file or an artifact store). */
  load?: () => SweepState | undefined | null | Promise<SweepState | undefined | null>;
  /** Called after every `saveEvery` chunks and at the end. */
  save?: (state: SweepState) => void | Promise<void>;
  saveEvery?: number;
  /** Checked before every chunk; an aborted sweep saves its state and throws SweepAbortedError. */
  signal?: AbortSignal;
  onProgress?: (done: number, total: number) => void;
}

export class SweepAbortedError extends Error {
  constructor(readonly state: SweepState) {
    super(`sweep aborted at item ${state.cursor} of ${state.total}; state saved, resume with load()`);
    this.name = 'AbortError';
  }
}

export interface SweepPlan {
  key: string;
  total: number;
  /** End (exclusive) of the chunk that starts at `start`; must be > start and ≤ total. */
  chunkEnd: (start: number) => number;
  /** Values of items [start, end). */
  compute: (start: number, end: number) => ArrayLike<number> | Promise<ArrayLike<number>>;
}

export function emptySweepState(key: string, total: number): SweepState {
  return { kind: 'plasticity.sweep', version: 1, key, total, cursor: 0, values: new Array(total).fill(null), chunksDone: 0 };
}

function checkState(s: SweepState, plan: SweepPlan): void {
  if (!s || s.kind !== 'plasticity.sweep' || s.version !== 1) throw new Error('sweep state: expected kind "plasticity.sweep", version 1');
  if (s.key !== plan.key) {
    throw new Error(`sweep state: key '${s.key}' does not match this sweep's key '${plan.key}' (settings, prompts or model changed); discard the saved state to start over`);
  }
  if (s.total !== plan.total || !Array.isArray(s.values) || s.values.length !== plan.total) {
    throw new Error(`sweep state: total ${s.total} / ${s.values?.length} values, expected ${plan.total}`);
  }
  if (!Number.isInteger(s.cursor) || s.cursor < 0 || s.cursor > s.total) throw new Error(`sweep state: cursor ${s.cursor} is outside [0, ${s.total}]`);
  for (let i = 0; i < s.cursor; i++) if (typeof s.values[i] !== 'number') throw new Error(`sweep state: value ${i} is missing below the cursor`);
}

/** Runs (or resumes) a sweep and returns all values. */
export async function runSweep(plan: SweepPlan, control: SweepControl = {}): Promise<Float64Array> {
  const loaded = control.load ? await control.load() : undefined;
  const state = loaded ? structuredClone(loaded) : emptySweepState(plan.key, plan.total);
  checkState(state, plan);
  const saveEvery = control.saveEvery ?? 1;
  if (!(Number.isInteger(saveEvery) && saveEvery >= 1)) throw new Error(`saveEvery: expected a positive integer, got ${saveEvery}`);
  let unsaved = 0;
  const save = async () => {
    unsaved = 0;
    if (control.save) await control.save(structuredClone(state));
  };
  while (state.cursor < plan.total) {
    if (control.signal?.aborted) {
      if (unsaved) await save();
      throw new SweepAbortedError(structuredClone(state));
    }
    const start = state.cursor;
    const end = plan.chunkEnd(start);
    if (!(Number.isInteger(end) && end > start && end <= plan.total)) throw new Error(`sweep: chunkEnd(${start}) = ${end}, expected in (${start}, ${plan.total}]`);
    const vals = await plan.compute(start, end);
    if (vals.length !== end - start) throw new Error(`sweep: chunk [${start}, ${end}) returned ${vals.length} values`);
    for (let i = start; i < end; i++) {
      const v = vals[i - start];
      state.values[i] = Number.isFinite(v) ? v : null;
    }
    state.cursor = end;
    state.chunksDone++;
    control.onProgress?.(end, plan.total);
    if (++unsaved >= saveEvery || end === plan.total) await save();
  }
  return Float64Array.from(state.values, (v) => (v === null ? NaN : v));
}

/** SHA-256 (hex, 32 chars) over strings, numbers, typed arrays (their bytes) and JSON-able objects: a sweep key. */
export function fingerprint(...parts: (string | number | ArrayBufferView | object)[]): string {
  const h = createHash('sha256');
  for (const part of parts) {
    if (typeof part === 'string') h.update(`s${part.length}:`).update(part);
    else if (ArrayBuffer.isView(part)) h.update(`b${part.byteLength}:`).update(new Uint8Array(part.buffer, part.byteOffset, part.byteLength));
    else h.update(`j:${JSON.stringify(part)}`);
    h.update('\u0000');
  }
  return h.digest('hex').slice(0, 32);
}
