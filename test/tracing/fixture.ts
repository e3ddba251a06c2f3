// Shared by the tracing tests: the tiny HF GPT-2 fixture and its patching reference as a TraceBatch.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { initBackend } from '../../model/engine';
import { GPT2 } from '../../model/gpt2';
import { loadHfFolder } from '../../model/hf';
import { NamedPositions, TraceBatch } from '../../tracing/batch';

export const FIXTURES = path.resolve(__dirname, '..', '..', '..', 'test', 'fixtures');

export interface PatchingReference {
  n_layer: number;
  n_head: number;
  seq_len: number;
  end: number;
  clean: number[][];
  corrupt: number[][];
  io: number[];
  s: number[];
  clean_ld_mean: number;
  corrupt_ld_mean: number;
  head_all_pos: number[][];
  head_per_pos: number[][][];
  dla: number[][];
  dla_other_components: Record<string, number>;
}

export function readReference(): PatchingReference {
  return JSON.parse(fs.readFileSync(path.join(FIXTURES, 'tiny-gpt2', 'patching.json'), 'utf8'));
}

export async function loadTiny(which: 'tiny-gpt2' | 'tiny-gpt2-untied' = 'tiny-gpt2'): Promise<GPT2> {
  await initBackend('wasm');
  return loadHfFolder(path.join(FIXTURES, which));
}

/** The reference's 8 prompts (IO at 2, S at 4 and 8, END 11) with the given template id per row. */
export function referenceBatch(ref: PatchingReference, template?: number[]): TraceBatch {
  const n = ref.clean.length;
  const T = ref.seq_len;
  const pos: NamedPositions = { IO: 2, S1: 4, S1p1: 5, S2: 8, END: ref.end };
  return {
    n,
    T,
    clean: Int32Array.from(ref.clean.flat()),
    corrupt: Int32Array.from(ref.corrupt.flat()),
    io: Int32Array.from(ref.io),
    s: Int32Array.from(ref.s),
    end: new Int32Array(n).fill(ref.end),
    template: template ? Int32Array.from(template) : undefined,
    positions: Array.from({ length: n }, () => ({ ...pos })),
  };
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}
