// The report's charts as ECharts option objects (plain JSON; the browser script adds tooltip formatters by kind):
// layer × head heatmaps on a diverging scale centred at 0, restoration-label maps, the lineage graph, loss curves
// and metric bars. Pure: ReportData in, chart specs out.
import type { HeadRestoration, RestorationLabel } from '../tracing/results';
import type { HeadGrid, ReportData, ReportStage } from './data';
import { formatDuration, methodTitle } from './format';

export type ChartKind = 'heatmap' | 'restoration' | 'graph' | 'line' | 'bar';

export interface ChartSpec {
  /** DOM id of the chart's container. */
  id: string;
  kind: ChartKind;
  /** Container size in pixels (width omitted = the full width of its parent). */
  width?: number;
  height: number;
  option: Record<string, unknown>;
  /** What the browser's tooltip formatter needs (heatmaps: title and metric; graph: stage details). */
  meta?: Record<string, unknown>;
}

/** Blue (negative) → white (0) → red (positive), after ColorBrewer RdBu. */
export const DIVERGING = ['#2166ac', '#4393c3', '#92c5de', '#d1e5f0', '#f7f7f7', '#fddbc7', '#f4a582', '#d6604d', '#b2182b'];

export const STATUS_COLORS: Record<string, string> = {
  done: '#2e7d32',
  cached: '#00897b',
  running: '#1e88e5',
  pending: '#9e9e9e',
  failed: '#c62828',
  cancelled: '#ef6c00',
};

export const LABEL_COLORS: Record<RestorationLabel, string> = {
  restored: '#2e7d32',
  compensated: '#f9a825',
  still_corrupted: '#c62828',
  recruited: '#7b1fa2',
  unchanged: '#e0e0e0',
};
const LABEL_ORDER: RestorationLabel[] = ['restored', 'compensated', 'still_corrupted', 'recruited', 'unchanged'];

const PALETTE = ['#3b6ea5', '#e07b39', '#5a9e6f', '#b5525c', '#8067a8', '#c9a227', '#4aa3b5', '#7f7f7f'];

/** Largest |value| of the grids (1 when all are 0 or missing), the half-range of a shared colour scale. */
export function symmetricScale(grids: HeadGrid[]): number {
  let m = 0;
  for (const g of grids) for (const v of g) if (v !== null && Number.isFinite(v)) m = Math.max(m, Math.abs(v));
  return m > 0 ? m : 1;
}

/** Pixel size of one heatmap cell: at most 40 px and 360 px per map side, and small enough that `perRow` maps fit a row. */
export function cellSize(nLayer: number, nHead: number, perRow = 1): number {
  const rowFit = Math.floor((ROW_WIDTH / Math.max(1, perRow) - HEATMAP_CHROME) / nHead);
  return Math.max(14, Math.min(40, Math.floor(360 / Math.max(nLayer, nHead)), rowFit));
}

/**
 * Cell size for `count` maps laid out in balanced rows: as many per row as fit at the smallest cell (14 px), the
 * rows evened out (6 maps that fit 4 a row become 3 + 3), and the cells as large as that row allows.
 */
export function balancedCellSize(nLayer: number, nHead: number, count: number): number {
  const fits = (k: number) => (ROW_WIDTH / k - HEATMAP_CHROME) / nHead >= 14;
  let perRow = Math.max(1, count);
  while (perRow > 1 && !fits(perRow)) perRow--;
  const rows = Math.ceil(Math.max(1, count) / perRow);
  return cellSize(nLayer, nHead, Math.ceil(Math.max(1, count) / rows));
}

/** Usable width of a section row and the pixels a heatmap figure adds to its cells (axes, padding, gaps). */
const ROW_WIDTH = 1180;
const HEATMAP_CHROME = 78;
const HEATMAP_LEFT = 40;

export interface HeatmapInput {
  id: string;
  title: string;
  grid: HeadGrid;
  nLayer: number;
  nHead: number;
  /** Half-range of the colour scale (values beyond it saturate). */
  scale: number;
  /** What the values are, for the tooltip. */
  metric: string;
  /** A second value per cell shown in the tooltip (e.g. CMAP's normalised score). */
  extra?: { name: string; grid: HeadGrid };
  /** Cell size in pixels (default cellSize(nLayer, nHead)). */
  cell?: number;
}

/** A layer × head heatmap: heads along x, layers down y (layer 0 on top). */
export function heatmap(h: HeatmapInput): ChartSpec {
  const cell = h.cell ?? cellSize(h.nLayer, h.nHead);
  const left = HEATMAP_LEFT;
  const bottom = 34;
  const data: (number | string)[][] = [];
  for (let l = 0; l < h.nLayer; l++) {
    for (let k = 0; k < h.nHead; k++) {
      const i = l * h.nHead + k;
      const v = h.grid[i];
      const point: (number | string)[] = [k, l, v === null || !Number.isFinite(v) ? '-' : v];
      if (h.extra) point.push(h.extra.grid[i] ?? '-');
      data.push(point);
    }
  }
  const showLabels = h.nLayer * h.nHead <= 64 && cell >= 28;
  return {
    id: h.id,
    kind: 'heatmap',
    width: left + h.nHead * cell + 14,
    height: 8 + h.nLayer * cell + bottom,
    option: {
      animation: false,
      grid: { left, right: 14, top: 8, bottom },
      tooltip: { confine: true },
      xAxis: { type: 'category', data: range(h.nHead).map(String), name: 'head', nameLocation: 'middle', nameGap: 20, splitArea: { show: false }, axisTick: { show: false } },
      yAxis: { type: 'category', data: range(h.nLayer).map(String), name: 'layer', nameLocation: 'middle', nameGap: 22, inverse: true, axisTick: { show: false } },
      visualMap: { show: false, type: 'continuous', dimension: 2, min: -h.scale, max: h.scale, inRange: { color: DIVERGING } },
      series: [
        {
          type: 'heatmap',
          data,
          itemStyle: { borderColor: '#ffffff', borderWidth: 1 },
          emphasis: { itemStyle: { borderColor: '#222', borderWidth: 2 } },
          label: { show: showLabels, fontSize: 10 },
        },
      ],
    },
    meta: { title: h.title, metric: h.metric, scale: h.scale, ...(h.extra ? { extraName: h.extra.name } : {}) },
  };
}

/** Per-head restoration labels as a categorical layer × head map. */
export function restorationMap(id: string, title: string, heads: HeadRestoration[], nLayer: number, nHead: number, cell = cellSize(nLayer, nHead)): ChartSpec {
  const left = HEATMAP_LEFT;
  const bottom = 34;
  const data = heads.map((h, i) => [h.index, h.layer, LABEL_ORDER.indexOf(h.label), i]);
  return {
    id,
    kind: 'restoration',
    width: left + nHead * cell + 14,
    height: 8 + nLayer * cell + bottom,
    option: {
      animation: false,
      grid: { left, right: 14, top: 8, bottom },
      tooltip: { confine: true },
      xAxis: { type: 'category', data: range(nHead).map(String), name: 'head', nameLocation: 'middle', nameGap: 20, axisTick: { show: false } },
      yAxis: { type: 'category', data: range(nLayer).map(String), name: 'layer', nameLocation: 'middle', nameGap: 22, inverse: true, axisTick: { show: false } },
      visualMap: {
        show: false,
        type: 'piecewise',
        dimension: 2,
        pieces: LABEL_ORDER.map((l, i) => ({ value: i, label: l, color: LABEL_COLORS[l] })),
      },
      series: [{ type: 'heatmap', data, itemStyle: { borderColor: '#ffffff', borderWidth: 1 }, emphasis: { itemStyle: { borderColor: '#222', borderWidth: 2 } } }],
    },
    meta: {
      title,
      labels: LABEL_ORDER,
      heads: heads.map((h) => ({ head: h.head, cls: h.cls, label: h.label, clean: h.clean, corrupted: h.corrupted, retrained: h.retrained, recovered: h.recovered, compensatedBy: h.compensatedBy })),
    },
  };
}

/** Longest-path depth of each stage from the graph's sources (stages without edges keep their list position). */
function depths(names: string[], edges: { from: string; to: string }[]): Map<string, number> {
  const depth = new Map<string, number>();
  const visit = (n: string, seen: Set<string>): number => {
    if (depth.has(n)) return depth.get(n)!;
    if (seen.has(n)) return 0; // a cycle would be a bug in the edges; do not loop
    seen.add(n);
    const parents = edges.filter((e) => e.to === n && names.includes(e.from)).map((e) => e.from);
    const d = parents.length ? Math.max(...parents.map((p) => visit(p, seen) + 1)) : 0;
    depth.set(n, d);
    return d;
  };
  names.forEach((n) => visit(n, new Set()));
  return depth;
}

/**
 * The lineage as a left-to-right graph of stages coloured by status, labelled with their durations: columns by
 * data-flow depth; the train chain (and every other non-trace stage) on the bottom row, trace stages stacked above.
 */
export function lineageGraph(id: string, stages: ReportStage[], edges: { from: string; to: string }[]): ChartSpec {
  const names = stages.map((s) => s.name);
  const depth = depths(names, edges);
  const rowOf = new Map<string, number>();
  const used = new Map<string, number>(); // `${column}:${above}` → count
  for (const n of names) {
    const above = n.startsWith('trace-');
    const key = `${depth.get(n)}:${above}`;
    const k = used.get(key) ?? 0;
    used.set(key, k + 1);
    rowOf.set(n, above ? -(k + 1) : k);
  }
  const rows = [...rowOf.values()];
  const top = Math.min(0, ...rows);
  const bottomRow = Math.max(0, ...rows);
  const colGap = 170;
  const rowGap = 58;
  const nodes = stages.map((s) => {
    const sub = s.status === 'running' && s.step !== undefined && s.total ? `${s.step}/${s.total}` : formatDuration(s.durationSeconds);
    return {
      name: s.name,
      x: depth.get(s.name)! * colGap,
      y: rowOf.get(s.name)! * rowGap,
      itemStyle: { color: STATUS_COLORS[s.status] ?? '#9e9e9e', borderColor: '#ffffff', borderWidth: 1 },
      label: { formatter: `${s.name}\n${s.status === 'pending' ? 'pending' : sub}` },
    };
  });
  const links = edges
    .filter((e) => names.includes(e.from) && names.includes(e.to))
    .map((e) => ({ source: e.from, target: e.to, ...(e.to === 'compare' ? { lineStyle: { type: 'dashed', opacity: 0.6, curveness: 0.22 } } : {}) }));
  return {
    id,
    kind: 'graph',
    height: Math.max(150, (bottomRow - top + 1) * rowGap + 50),
    option: {
      animation: false,
      tooltip: { confine: true },
      series: [
        {
          type: 'graph',
          layout: 'none',
          roam: false,
          left: 70,
          right: 70,
          top: 25,
          bottom: 25,
          symbol: 'roundRect',
          symbolSize: [132, 38],
          label: { show: true, color: '#ffffff', fontSize: 11, lineHeight: 14 },
          edgeSymbol: ['none', 'arrow'],
          edgeSymbolSize: 7,
          lineStyle: { color: '#90a4ae', width: 1.4, curveness: 0.1 },
          data: nodes,
          links,
        },
      ],
    },
    meta: {
      stages: Object.fromEntries(
        stages.map((s) => [s.name, { kind: s.kind, status: s.status, duration: formatDuration(s.durationSeconds), artifacts: s.artifacts.map((a) => `${a.name} (${a.kind})`), error: s.error }]),
      ),
    },
  };
}

/** The frame of a loss-over-steps chart; `xAxis` adds to the step axis. */
function lossFrame(xAxis: Record<string, unknown>): Record<string, unknown> {
  return {
    animation: false,
    grid: { left: 52, right: 18, top: 28, bottom: 36 },
    tooltip: { trigger: 'axis', confine: true },
    xAxis: { name: 'step', nameLocation: 'middle', nameGap: 22, ...xAxis },
    yAxis: { type: 'value', name: 'loss', scale: true },
  };
}

export function lossChart(id: string, stage: string, points: { step: number; loss: number }[], marks: { label: string; step: number }[]): ChartSpec {
  return {
    id,
    kind: 'line',
    height: 220,
    option: {
      ...lossFrame({ type: 'value', min: 'dataMin', max: 'dataMax' }),
      series: [
        {
          name: `${stage} loss`,
          type: 'line',
          showSymbol: false,
          lineStyle: { width: 1.6 },
          color: PALETTE[0],
          data: points.map((p) => [p.step, p.loss]),
          markLine: marks.length
            ? { symbol: 'none', silent: true, lineStyle: { color: '#999', type: 'dashed' }, label: { formatter: '{b}', fontSize: 10 }, data: marks.map((m) => ({ name: m.label, xAxis: m.step })) }
            : undefined,
        },
      ],
    },
  };
}

/** Mean loss over steps with a ±1 std band (stacked: mean − std, then 2·std shaded). */
export function lossBandChart(id: string, curve: { stage: string; steps: number[]; mean: number[]; std: number[] }): ChartSpec {
  const lower = curve.mean.map((m, i) => m - (curve.std[i] || 0));
  const width = curve.std.map((s) => 2 * (s || 0));
  return {
    id,
    kind: 'line',
    height: 220,
    option: {
      ...lossFrame({ type: 'category', data: curve.steps, boundaryGap: false }),
      series: [
        { name: 'mean − std', type: 'line', data: lower, stack: 'band', lineStyle: { opacity: 0 }, showSymbol: false },
        { name: '±1 std', type: 'line', data: width, stack: 'band', lineStyle: { opacity: 0 }, areaStyle: { color: '#9ecae1', opacity: 0.5 }, showSymbol: false },
        { name: `${curve.stage} loss (mean)`, type: 'line', data: curve.mean, showSymbol: false, lineStyle: { width: 1.6 }, color: '#2166ac' },
      ],
    },
  };
}

/** Grouped bars: one group per category, one series per entry. */
export function barChart(
  id: string,
  categories: string[],
  series: { name: string; values: (number | null)[] }[],
  opts: { yName?: string; yMax?: number; height?: number; colors?: string[]; pointColors?: string[] } = {},
): ChartSpec {
  const point = (v: number | null, i: number) => (opts.pointColors ? { value: v === null ? '-' : v, itemStyle: { color: opts.pointColors[i] } } : v === null ? '-' : v);
  return {
    id,
    kind: 'bar',
    height: opts.height ?? 260,
    option: {
      animation: false,
      color: opts.colors ?? PALETTE,
      grid: { left: 52, right: 18, top: 40, bottom: 48 },
      legend: { top: 4, show: series.length > 1 },
      tooltip: { trigger: 'axis', axisPointer: { type: 'shadow' }, confine: true },
      xAxis: { type: 'category', data: categories, axisLabel: { interval: 0, rotate: categories.length > 6 ? 25 : 0, fontSize: 11 } },
      yAxis: { type: 'value', name: opts.yName ?? '', ...(opts.yMax !== undefined ? { max: opts.yMax } : {}) },
      series: series.map((s) => ({ name: s.name, type: 'bar', data: s.values.map(point), barMaxWidth: 28 })),
    },
  };
}

/** The clean fine-tune traced at several epoch counts: logit difference and faithfulness against epochs. */
export function durationCurve(id: string, points: { epochs: number; ld: number | null; faithfulness: number | null }[]): ChartSpec {
  return {
    id,
    kind: 'line',
    height: 260,
    option: {
      animation: false,
      color: [PALETTE[0], PALETTE[1]],
      grid: { left: 52, right: 60, top: 40, bottom: 40 },
      legend: { top: 4 },
      tooltip: { trigger: 'axis', confine: true },
      xAxis: { type: 'value', name: 'fine-tune epochs', nameLocation: 'middle', nameGap: 24, minInterval: 1 },
      yAxis: [
        { type: 'value', name: 'logit diff' },
        { type: 'value', name: 'faithfulness', min: 0, splitLine: { show: false } },
      ],
      series: [
        { name: 'logit difference', type: 'line', data: points.map((p) => [p.epochs, p.ld ?? '-']), symbolSize: 7 },
        { name: 'circuit faithfulness F(C)/F(M)', type: 'line', yAxisIndex: 1, data: points.map((p) => [p.epochs, p.faithfulness ?? '-']), symbolSize: 7 },
      ],
    },
  };
}

/** All chart specs of a report, keyed by the section that places them. */
export interface ReportCharts {
  graph?: ChartSpec;
  loss: ChartSpec[];
  metrics: ChartSpec[];
  duration?: ChartSpec;
  /** Per method: the stage maps, the adjacent-stage differences, and each group's colour half-range. */
  methods: { method: string; metric: string; stageScale: number; diffScale: number; stages: ChartSpec[]; diffs: ChartSpec[] }[];
  localisation: { method: string; scale: number; chart: ChartSpec }[];
  localisationShares?: ChartSpec;
  restorationBars?: ChartSpec;
  restoration: { method: string; chart: ChartSpec }[];
  cmap: { pair: string; scale: number; charts: ChartSpec[] }[];
}

/** Ids are 'c' + a counter, so they are valid and unique whatever the stage and method names are. */
export function buildCharts(data: ReportData): ReportCharts {
  let n = 0;
  const nextId = () => `c${++n}`;
  const out: ReportCharts = { loss: [], metrics: [], methods: [], localisation: [], restoration: [], cmap: [] };
  if (data.stages.length) out.graph = lineageGraph(nextId(), data.stages, data.edges);
  for (const c of data.lossCurves) if (c.points.length) out.loss.push(lossChart(nextId(), c.stage, c.points, c.marks));

  const traces = data.traces;
  if (traces.length) {
    const labels = traces.map((t) => t.label);
    out.metrics.push(
      barChart(nextId(), labels, [
        { name: 'logit diff (clean prompts)', values: traces.map((t) => t.metrics.logitDiff) },
        { name: 'logit diff (corrupted prompts)', values: traces.map((t) => t.metrics.corruptLogitDiff) },
      ], { yName: 'logit(IO) − logit(S)' }),
      barChart(nextId(), labels, [
        { name: 'pairwise acc', values: traces.map((t) => t.metrics.pairwiseAcc) },
        { name: 'top-1 acc', values: traces.map((t) => t.metrics.top1Acc) },
        { name: 'IO prob', values: traces.map((t) => t.metrics.ioProb) },
      ], { yMax: 1 }),
    );
    const curve = traces
      .map((t) => ({ t, epochs: t.label === 'base' ? 0 : /^finetune-e(\d+(?:\.\d+)?)$/.exec(t.label)?.[1] }))
      .filter((x) => x.epochs !== undefined)
      .map((x) => ({ epochs: Number(x.epochs), ld: x.t.metrics.logitDiff, faithfulness: x.t.circuit?.faithfulness.ratio ?? null }));
    if (curve.filter((p) => p.epochs > 0).length >= 2) out.duration = durationCurve(nextId(), curve);
  }

  const model = data.model;
  if (model) {
    const { nLayer, nHead } = model;
    for (const mm of data.headMaps) {
      const diffs = data.diffs.filter((d) => d.method === mm.method);
      const stageScale = symmetricScale(mm.stages.map((s) => s.values));
      const diffScale = symmetricScale(diffs.map((d) => d.values));
      const cell = balancedCellSize(nLayer, nHead, mm.stages.length);
      out.methods.push({
        method: mm.method,
        metric: mm.metric,
        stageScale,
        diffScale,
        stages: mm.stages.map((s) => heatmap({ id: nextId(), title: `${methodTitle(mm.method)} · ${s.label}`, grid: s.values, nLayer, nHead, scale: stageScale, metric: mm.metric, cell })),
        diffs: diffs.map((d) => heatmap({ id: nextId(), title: `${methodTitle(mm.method)} · ${d.to} − ${d.from}`, grid: d.values, nLayer, nHead, scale: diffScale, metric: `change of ${mm.metric}`, cell })),
      });
    }

    const loc = data.localisation;
    if (loc) {
      for (const method of Object.keys(loc.byMethod)) {
        const mm = data.headMaps.find((m) => m.method === method);
        const from = mm?.stages.find((s) => s.label === loc.from);
        const to = mm?.stages.find((s) => s.label === loc.to);
        if (!mm || !from || !to) continue;
        const grid = to.values.map((v, i) => (v === null || from.values[i] === null ? null : v - (from.values[i] as number)));
        const scale = symmetricScale([grid]);
        const cell = cellSize(nLayer, nHead, 3.3); // one map per card, three cards a row
        out.localisation.push({ method, scale, chart: heatmap({ id: nextId(), title: `${methodTitle(method)} · ${loc.to} − ${loc.from}`, grid, nLayer, nHead, scale, metric: `change of ${mm.metric}`, cell }) });
      }
      const methods = Object.keys(loc.byMethod);
      const ks = Object.keys(loc.byMethod[methods[0]]?.topShare ?? {}).sort((a, b) => Number(a) - Number(b));
      if (methods.length && ks.length) {
        out.localisationShares = barChart(nextId(), ks.map((k) => `top ${k}`), methods.map((m) => ({ name: methodTitle(m), values: ks.map((k) => loc.byMethod[m].topShare[k] ?? null) })), { yMax: 1, yName: 'share of Σ|Δ|' });
      }
    }

    const r = data.restoration;
    if (r) {
      out.restorationBars = barChart(
        nextId(),
        [r.clean, r.corrupted, r.retrained],
        [{ name: 'logit difference', values: [r.behavioural.ldClean, r.behavioural.ldCorrupted, r.behavioural.ldRetrained] }],
        { yName: 'logit diff', height: 220, pointColors: [PALETTE[0], '#c62828', '#2e7d32'] },
      );
      out.restorationBars.width = 420;
      const methods = [r.primaryMethod, ...Object.keys(r.mechanistic).filter((m) => m !== r.primaryMethod)].filter((m) => r.mechanistic[m]);
      for (const m of methods) {
        out.restoration.push({ method: m, chart: restorationMap(nextId(), `${methodTitle(m)} · per-head restoration`, r.mechanistic[m].heads, nLayer, nHead, cellSize(nLayer, nHead, 3.3)) });
      }
    }

    for (const p of data.cmap) {
      const scale = symmetricScale(p.sweeps.map((s) => s.delta));
      const cell = cellSize(nLayer, nHead, 3.6 * Math.max(1, p.sweeps.length)); // three pairs per row, their sweeps side by side
      out.cmap.push({
        pair: `${p.receiver} ← ${p.donor}`,
        scale,
        charts: p.sweeps.map((s) =>
          heatmap({
            id: nextId(),
            title: `CMAP ${s.key} · ${p.receiver} ← ${p.donor}`,
            grid: s.delta,
            nLayer,
            nHead,
            scale,
            metric: 'ΔCMAP = F_A[h←B] − F_A (logit diff)',
            extra: { name: 'normalised (F_A[h←B] − F_A)/(F_B − F_A)', grid: s.normalised },
            cell,
          }),
        ),
      });
    }
  }
  return out;
}

/** Every chart spec in page order. */
export function allCharts(c: ReportCharts): ChartSpec[] {
  return [
    ...(c.graph ? [c.graph] : []),
    ...c.loss,
    ...c.metrics,
    ...(c.duration ? [c.duration] : []),
    ...c.methods.flatMap((m) => [...m.stages, ...m.diffs]),
    ...(c.localisationShares ? [c.localisationShares] : []),
    ...c.localisation.map((l) => l.chart),
    ...(c.restorationBars ? [c.restorationBars] : []),
    ...c.restoration.map((r) => r.chart),
    ...c.cmap.flatMap((p) => p.charts),
  ];
}

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

