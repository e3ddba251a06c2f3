// A sweep's aggregate: the points grouped by *setting* (their overrides other than the seeds), and per setting every
// headline number, every traced model's IOI metrics, the loss curves and the per-head maps as mean and spread
// (sample standard deviation) across the seeds. Head maps also get a stability band per head: the fraction of seeds
// whose value has the sign of the mean and is at least half its magnitude — a consistent head role scores ~1, a seed
// artefact scores low. Pure: built from each point's ReportData (report/collect.ts).
import type { HeadGrid, ReportData } from './data';

export const SWEEP_DATA_SCHEMA = 'plasticity.sweep-data' as const;

export interface Spread {
  mean: number | null;
  std: number | null;
  min: number | null;
  max: number | null;
  n: number;
}

export interface SweepPointData {
  index: number;
  label: string;
  overrides: string[];
  status: string;
  workflowId?: string;
  headline: Record<string, number>;
  reportUri?: string;
}

export interface SettingAggregate {
  /** The overrides other than seeds (`corrupt.rate=0.5`), or '(base config)'. */
  setting: string;
  points: number[];
  seeds: string[];
  headline: Record<string, Spread>;
  /** Traced model label → metric → spread (logitDiff, pairwiseAcc, …). */
  traces: Record<string, Record<string, Spread>>;
  /** Per train stage: mean and std of the loss at each step all seeds logged. */
  lossCurves: { stage: string; steps: number[]; mean: number[]; std: number[] }[];
  headMaps: { method: string; metric: string; label: string; mean: HeadGrid; std: HeadGrid; stability: HeadGrid }[];
  model?: { nLayer: number; nHead: number };
}

export interface SweepData {
  schema: typeof SWEEP_DATA_SCHEMA;
  name: string;
  sweepId?: string;
  generatedAt: string;
  points: SweepPointData[];
  settings: SettingAggregate[];
}

/** Seeds are `seed=…` overrides (the top-level seed); everything else makes the setting. */
export const isSeedOverride = (o: string) => /^seed=/.test(o);

export function spread(values: readonly (number | null | undefined)[]): Spread {
  const xs = values.filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
  if (xs.length === 0) return { mean: null, std: null, min: null, max: null, n: 0 };
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  const std = xs.length > 1 ? Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (xs.length - 1)) : 0;
  return { mean, std, min: Math.min(...xs), max: Math.max(...xs), n: xs.length };
}

export function aggregateSweep(
  name: string,
  points: SweepPointData[],
  reports: Map<number, ReportData>,
  sweepId?: string,
): SweepData {
  const groups = new Map<string, SweepPointData[]>();
  for (const p of points) {
    const setting = p.overrides.filter((o) => !isSeedOverride(o)).join(',') || '(base config)';
    groups.set(setting, [...(groups.get(setting) ?? []), p]);
  }
  const settings = [...groups.entries()].map(([setting, ps]): SettingAggregate => {
    const done = ps.filter((p) => reports.has(p.index));
    const datas = done.map((p) => reports.get(p.index)!);
    const keys = [...new Set(done.flatMap((p) => Object.keys(p.headline)))];
    const headline = Object.fromEntries(keys.map((k) => [k, spread(done.map((p) => p.headline[k]))]));
    const labels = [...new Set(datas.flatMap((d) => d.traces.map((t) => t.label)))];
    const traces = Object.fromEntries(
      labels.map((label) => {
        const ms = datas.map((d) => d.traces.find((t) => t.label === label)?.metrics as unknown as Record<string, number> | undefined);
        const names = [...new Set(ms.flatMap((m) => (m ? Object.keys(m) : [])))].filter((n) => n !== 'n');
        return [label, Object.fromEntries(names.map((n) => [n, spread(ms.map((m) => m?.[n]))]))];
      }),
    );
    const stages = [...new Set(datas.flatMap((d) => d.lossCurves.map((c) => c.stage)))];
    const lossCurves = stages.map((stage) => {
      const curves = datas.map((d) => new Map((d.lossCurves.find((c) => c.stage === stage)?.points ?? []).map((p) => [p.step, p.loss])));
      const steps = [...new Set(curves.flatMap((c) => [...c.keys()]))].filter((s) => curves.every((c) => c.has(s))).sort((a, b) => a - b);
      const at = steps.map((s) => spread(curves.map((c) => c.get(s))));
      return { stage, steps, mean: at.map((x) => x.mean ?? NaN), std: at.map((x) => x.std ?? NaN) };
    });
    const headMaps: SettingAggregate['headMaps'] = [];
    const methods = [...new Set(datas.flatMap((d) => d.headMaps.map((m) => m.method)))];
    const mapLabels = [...new Set(datas.flatMap((d) => d.headMaps.flatMap((m) => m.stages.map((x) => x.label))))];
    for (const method of methods) {
      for (const label of mapLabels) {
        const grids = datas.map((d) => d.headMaps.find((m) => m.method === method)?.stages.find((s) => s.label === label)?.values).filter((g): g is HeadGrid => !!g);
        if (grids.length === 0) continue;
        const cells = grids[0].length;
        const mean: HeadGrid = [];
        const std: HeadGrid = [];
        const stability: HeadGrid = [];
        for (let i = 0; i < cells; i++) {
          const s = spread(grids.map((g) => g[i]));
          mean.push(s.mean);
          std.push(s.std);
          const m = s.mean;
          stability.push(m === null || m === 0 ? null : grids.filter((g) => g[i] !== null && Math.sign(g[i]!) === Math.sign(m) && Math.abs(g[i]!) >= Math.abs(m) / 2).length / grids.length);
        }
        const metric = datas.map((d) => d.headMaps.find((m) => m.method === method)?.metric).find(Boolean) ?? '';
        headMaps.push({ method, metric, label, mean, std, stability });
      }
    }
    const model = datas.find((d) => d.model)?.model;
    return {
      setting,
      points: ps.map((p) => p.index),
      seeds: ps.map((p) => p.overrides.filter(isSeedOverride).join(',') || 'seed=(config)'),
      headline,
      traces,
      lossCurves,
      headMaps,
      ...(model ? { model: { nLayer: model.nLayer, nHead: model.nHead } } : {}),
    };
  });
  return { schema: SWEEP_DATA_SCHEMA, name, ...(sweepId ? { sweepId } : {}), generatedAt: new Date().toISOString(), points, settings };
}

/** One row per setting × headline number: setting, metric, mean, std, min, max, n (for notebooks). */
export function sweepCsv(data: SweepData): string {
  const rows = [['setting', 'metric', 'mean', 'std', 'min', 'max', 'n']];
  const cell = (v: number | null) => (v === null ? '' : String(v));
  for (const s of data.settings) {
    for (const [k, v] of Object.entries(s.headline)) rows.push([s.setting, k, cell(v.mean), cell(v.std), cell(v.min), cell(v.max), String(v.n)]);
    for (const [label, ms] of Object.entries(s.traces)) {
      for (const [k, v] of Object.entries(ms)) rows.push([s.setting, `trace.${label}.${k}`, cell(v.mean), cell(v.std), cell(v.min), cell(v.max), String(v.n)]);
    }
  }
  const quote = (c: string) => (/[",\n]/.test(c) ? `"${c.replace(/"/g, '""')}"` : c);
  return rows.map((r) => r.map(quote).join(',')).join('\n') + '\n';
}
