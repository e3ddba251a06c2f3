// Shared by `plasticity trace` and `plasticity cmap`: backend, model loading, prompt sets, and scores as named rows.
import { Command } from 'commander';
import { BACKEND_CHOICES, initBackend } from '../model/engine';
import { loadModel, LoadedModel } from '../checkpoint/load';
import { TraceSet } from '../tracing/batch';
import { ioiTraceSet } from '../tracing/ioi-set';
import { Scores, scoreAt, unflatten } from '../tracing/scores';
import { asUsageError, parseBackend, parseIntAtLeast } from './options';

export interface PromptCliOptions {
  n: string;
  seed: string;
  prompts?: string;
  backend?: string;
}

export function addPromptOptions(cmd: Command): Command {
  return cmd
    .option('--n <n>', 'number of generated IOI prompts (clean + ABC-corrupted)', '64')
    .option('--seed <seed>', 'seed of generated prompts', '12345')
    .option('--prompts <file>', 'JSON lines {"clean", "corrupt", "io", "s"} instead of generated prompts')
    .option('--backend <name>', `tfjs backend: ${BACKEND_CHOICES.join(', ')}`)
    .option('--json', 'print the result as JSON on stdout, and progress as JSON events on stderr');
}

/** Initialises the --backend; its notes, prefixed with `who`, go to `log` (default: stderr). */
export async function setupBackend(opts: PromptCliOptions, who: string, log: (message: string) => void = (m) => process.stderr.write(`${m}\n`)): Promise<string> {
  return initBackend(parseBackend(opts.backend), (m) => log(`${who}: ${m}`));
}

export async function loadModelFor(dir: string, flag: string): Promise<LoadedModel> {
  return asUsageError(async () => {
    try {
      return await loadModel(dir);
    } catch (e) {
      throw new Error(`${flag} ${dir}: ${(e as Error).message}`);
    }
  });
}

export async function promptSet(opts: PromptCliOptions, loaded: LoadedModel): Promise<{ set: TraceSet; source: Record<string, unknown> }> {
  const spec = opts.prompts ? { file: opts.prompts } : { n: parseIntAtLeast(opts.n, '--n', 1), seed: parseIntAtLeast(opts.seed, '--seed', 0) };
  const { set, corruption } = await asUsageError(() => ioiTraceSet(spec, loaded.vocab));
  return { set, source: { ...spec, corruption } };
}

/** Scores as one row per cell, each naming its coordinates (layer, head, position, …) and value. */
export function scoreRows(s: Scores, extra: Record<string, Scores> = {}): Record<string, number | string | null>[] {
  const rows: Record<string, number | string | null>[] = [];
  for (let i = 0; i < s.values.length; i++) {
    const coord = unflatten(s.shape, i);
    const row: Record<string, number | string | null> = {};
    s.axes.forEach((axis, a) => {
      row[axis] = coord[a];
      const label = s.labels?.[axis]?.[coord[a]];
      if (label !== undefined && label !== String(coord[a])) row[`${axis}_label`] = label;
    });
    const v = s.values[i];
    row.value = Number.isNaN(v) ? null : v;
    for (const [name, other] of Object.entries(extra)) {
      const x = scoreAt(other, ...coord);
      row[name] = Number.isNaN(x) ? null : x;
    }
    rows.push(row);
  }
  return rows;
}

/** Prints the JSON document, or the 15 scores furthest from `baseline` (e.g. the unpatched logit difference). */
export function printJsonOrTable(json: boolean | undefined, out: Record<string, unknown>, rows: Record<string, number | string | null>[], title: string, baseline = 0): void {
  if (json) {
    process.stdout.write(JSON.stringify(out, null, 2) + '\n');
    return;
  }
  process.stdout.write(`${title}\n`);
  const top = [...rows].filter((r) => typeof r.value === 'number').sort((a, b) => Math.abs((b.value as number) - baseline) - Math.abs((a.value as number) - baseline)).slice(0, 15);
  for (const r of top) {
    const where = Object.entries(r).filter(([k]) => !['value'].includes(k) && typeof r[k] !== 'object').map(([k, v]) => `${k}=${typeof v === 'number' && !Number.isInteger(v) ? v.toFixed(4) : v}`).join(' ');
    process.stdout.write(`  ${(r.value as number).toFixed(4).padStart(10)}  ${where}\n`);
  }
}
