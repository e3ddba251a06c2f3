// The tiny lineage (configs/tiny-test.yaml, no Temporal: lineage/local.ts) on one backend into a fresh
// store, wall seconds per stage; and the side-by-side table of several backends that flags a stage far slower than
// the same stage elsewhere *relative to that backend's usual pace* (a stall, not a slower backend).
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadConfig } from '../config/load';
import { runLineageLocally } from '../lineage/local';
import type { BackendName } from '../model/engine';
import { codeVersion } from '../temporal/lineage-client';
import { projectRoot } from '../temporal/project-root';

export interface LineageStageTimes {
  backend: BackendName;
  seconds: number;
  stages: Record<string, number>;
  loadavg: [number, number];
}

export async function benchTinyLineage(backend: BackendName): Promise<LineageStageTimes> {
  const store = fs.mkdtempSync(path.join(os.tmpdir(), `plasticity-bench-lineage-${backend}-`));
  const loaded = loadConfig(path.join(projectRoot(), 'configs', 'tiny-test.yaml'), { set: [`backend=${backend}`, `store=${store}`] });
  const started: Record<string, number> = {};
  const stages: Record<string, number> = {};
  const load0 = os.loadavg()[0];
  const t0 = Date.now();
  try {
    await runLineageLocally(loaded, {
      codeVersion: `${codeVersion()}-bench-${Date.now()}`, // fresh: no stage comes from an earlier cache
      onStage: (stage, status) => {
        if (status === 'running') started[stage] = Date.now();
        else stages[stage] = Math.round((Date.now() - (started[stage] ?? Date.now())) / 100) / 10;
      },
    });
  } finally {
    fs.rmSync(store, { recursive: true, force: true });
  }
  return { backend, seconds: (Date.now() - t0) / 1000, stages, loadavg: [load0, os.loadavg()[0]] };
}

export interface StageComparison {
  stage: string;
  seconds: Partial<Record<BackendName, number>>;
  /** Slowest over fastest backend for this stage. */
  ratio: number;
  /** The ratio divided by the median ratio of the same two backends over all stages. */
  relative: number;
  flagged: boolean;
}

const FLAG_RELATIVE = 4; // a stage 4× further behind than the backend usually is: a stall
const FLOOR_SECONDS = 2; // stages shorter than this are noise on a shared machine

export function compareStageTimes(runs: LineageStageTimes[]): StageComparison[] {
  const ok = runs.filter((r) => r && r.stages);
  const stages = [...new Set(ok.flatMap((r) => Object.keys(r.stages)))];
  const t = (r: LineageStageTimes, s: string) => Math.max(r.stages[s] ?? NaN, FLOOR_SECONDS);
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 1;
  // Usual pace of backend a against b: the median over stages of t_a / t_b.
  const pace = (a: LineageStageTimes, b: LineageStageTimes) => median(stages.map((s) => t(a, s) / t(b, s)).filter(Number.isFinite));
  return stages.map((stage) => {
    const have = ok.filter((r) => Number.isFinite(r.stages[stage]));
    const slow = have.reduce((x, y) => (t(y, stage) > t(x, stage) ? y : x), have[0]);
    const fast = have.reduce((x, y) => (t(y, stage) < t(x, stage) ? y : x), have[0]);
    const ratio = have.length > 1 ? t(slow, stage) / t(fast, stage) : 1;
    const relative = have.length > 1 ? ratio / pace(slow, fast) : 1;
    const seconds = Object.fromEntries(have.map((r) => [r.backend, r.stages[stage]]));
    return { stage, seconds, ratio: Math.round(ratio * 100) / 100, relative: Math.round(relative * 100) / 100, flagged: relative >= FLAG_RELATIVE };
  });
}

export function stageTable(runs: LineageStageTimes[], rows: StageComparison[]): string {
  const backends = runs.map((r) => r.backend);
  const head = ['stage', ...backends.map((b) => `${b} s`), 'slow/fast', 'vs usual', ''];
  const body = rows.map((r) => [r.stage, ...backends.map((b) => (r.seconds[b] ?? NaN).toFixed(1)), r.ratio.toFixed(2), r.relative.toFixed(2), r.flagged ? '<-- far slower than usual' : '']);
  const all = [head, ...body, ['whole lineage', ...runs.map((r) => r.seconds.toFixed(1)), '', '', '']];
  const widths = head.map((_, i) => Math.max(...all.map((row) => row[i].length)));
  return all.map((row) => row.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd()).join('\n');
}
