// Sweeps over a config: `--grid key=v1,v2` flags and/or a `sweep:` section of the config file ({grid: {key: [v1,
// v2]}, concurrency: n}). Grid keys are dotted config paths as `--set` takes them; every point is the base config
// with one value per key applied through the same override mechanism (config/load.ts applyOverrides), so a bad key
// or value fails naming it. The `sweep:` section is read here and is not part of any point's config.
import { z } from 'zod';
import { applyOverrides, ConfigError, configHash, parseConfig, readConfigFile } from './load';
import type { ExperimentConfig } from './schema';

export const SweepSectionSchema = z
  .object({
    /** Dotted config path → the values to sweep. */
    grid: z.record(z.string(), z.array(z.unknown()).min(1)).default({}),
    /** Child lineages at once (default 2). */
    concurrency: z.number().int().positive().default(2),
  })
  .strict();

export interface GridAxis {
  key: string;
  /** Values as `--set` text (JSON or plain string). */
  values: string[];
}

export interface ExpandedPoint {
  index: number;
  label: string;
  overrides: string[];
  config: ExperimentConfig;
  configHash: string;
}

export interface ExpandedSweep {
  name: string;
  axes: GridAxis[];
  concurrency: number;
  points: ExpandedPoint[];
  source: string;
}

/** Splits `v1,v2,[1,2]` at top-level commas (brackets and quotes keep theirs). */
export function splitValues(text: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let quote: string | undefined;
  let cur = '';
  for (const ch of text) {
    if (quote) {
      if (ch === quote) quote = undefined;
    } else if (ch === '"' || ch === "'") quote = ch;
    else if (ch === '[' || ch === '{') depth++;
    else if (ch === ']' || ch === '}') depth--;
    else if (ch === ',' && depth === 0) {
      out.push(cur.trim());
      cur = '';
      continue;
    }
    cur += ch;
  }
  out.push(cur.trim());
  return out.filter((v) => v !== '');
}

/** `key=v1,v2` → an axis; a key given twice is an error. */
export function parseGridFlags(flags: readonly string[]): GridAxis[] {
  const axes: GridAxis[] = [];
  for (const flag of flags) {
    const eq = flag.indexOf('=');
    if (eq <= 0) throw new ConfigError(`--grid ${flag}: expected key=v1,v2,…, e.g. seed=0,1,2`);
    const key = flag.slice(0, eq).trim();
    const values = splitValues(flag.slice(eq + 1));
    if (values.length === 0) throw new ConfigError(`--grid ${key}: expected at least one value`, key);
    if (axes.some((a) => a.key === key)) throw new ConfigError(`--grid ${key}: given twice`, key);
    axes.push({ key, values });
  }
  return axes;
}

/** The base config, `--set` overrides, then the grid's cartesian product (the first axis varies slowest). */
export function expandSweep(
  file: string | undefined,
  opts: { set?: readonly string[]; grid?: readonly string[]; concurrency?: number; baseDir?: string } = {},
): ExpandedSweep {
  const source = file ?? '(defaults)';
  const raw = file ? readConfigFile(file) : {};
  const { sweep: section, ...base } = raw as Record<string, unknown> & { sweep?: unknown };
  const parsed = SweepSectionSchema.safeParse(section ?? {});
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = ['sweep', ...issue.path.map(String), ...(issue.code === 'unrecognized_keys' ? [issue.keys[0]] : [])].join('.');
    const what = issue.code === 'unrecognized_keys' ? 'unknown key; expected grid, concurrency' : issue.message;
    throw new ConfigError(`config ${source}: ${field}: ${what}`, field);
  }
  const fromFile: GridAxis[] = Object.entries(parsed.data.grid).map(([key, values]) => ({ key, values: values.map((v) => (typeof v === 'string' ? v : JSON.stringify(v))) }));
  const fromFlags = parseGridFlags(opts.grid ?? []);
  const axes = [...fromFile.filter((a) => !fromFlags.some((f) => f.key === a.key)), ...fromFlags];
  if (axes.length === 0) throw new ConfigError(`sweep ${source}: no grid; give --grid key=v1,v2 or a sweep.grid section`);
  let combos: string[][] = [[]];
  for (const axis of axes) combos = combos.flatMap((c) => axis.values.map((v) => [...c, `${axis.key}=${v}`]));
  const withSets = applyOverrides(base, opts.set ?? [], source);
  const points = combos.map((overrides, index): ExpandedPoint => {
    const config = parseConfig(applyOverrides(withSets, overrides, source), { source: `${source} [${overrides.join(', ')}]`, baseDir: opts.baseDir });
    return { index, label: overrides.join(','), overrides, config, configHash: configHash(config) };
  });
  const name = points[0]?.config.name ?? 'sweep';
  return { name, axes, concurrency: opts.concurrency ?? parsed.data.concurrency, points, source };
}
