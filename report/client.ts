// The report page's script (runs in the browser, inlined into report.html by render.ts): creates every ECharts
// chart from the JSON chart specs, adds the tooltip formatters (functions cannot travel as JSON), makes the
// lineage graph link to the stage table, and exposes window.__plasticityReport for tests.
// Type-only imports only: this file's compiled JS is inlined as it is, so it must not require() anything.
import type { ChartSpec } from './charts';

/* eslint-disable @typescript-eslint/no-explicit-any */
declare const echarts: any;
declare const document: any;
declare const window: any;

interface Payload {
  charts: ChartSpec[];
  headClasses: Record<string, string>;
}

interface TooltipParams {
  data: any;
  name: string;
  dataType?: string;
  seriesName?: string;
}

export function startReport(): void {
  const source = document.getElementById('report-charts');
  if (!source) throw new Error('report: the #report-charts data element is missing');
  const payload = JSON.parse(source.textContent) as Payload;
  const created: { id: string; kind: string; chart: any }[] = [];
  for (const spec of payload.charts) {
    const dom = document.getElementById(spec.id);
    if (!dom) throw new Error(`report: no container for chart ${spec.id}`);
    const chart = echarts.init(dom, null, { renderer: 'canvas' });
    chart.setOption(withFormatters(spec, payload.headClasses));
    if (spec.kind === 'graph') {
      chart.on('click', (p: TooltipParams) => {
        if (p.dataType === 'node') window.location.hash = `stage-${p.name}`;
      });
    }
    created.push({ id: spec.id, kind: spec.kind, chart });
  }
  window.addEventListener('resize', () => created.forEach((c) => c.chart.resize()));
  window.__plasticityReport = { ready: true, charts: created.map((c) => ({ id: c.id, kind: c.kind })) };
}

function withFormatters(spec: ChartSpec, classes: Record<string, string>): Record<string, unknown> {
  const option = spec.option as any;
  const meta = (spec.meta ?? {}) as any;
  option.tooltip = option.tooltip ?? {};
  if (spec.kind === 'heatmap') {
    option.tooltip.formatter = (p: TooltipParams) => heatTooltip(p.data, meta, classes);
    // Cell labels only where the value matters (≥ 10% of the colour scale), in 2 significant digits.
    // White text on dark cells, near-black on light ones.
    const label = option.series[0].label;
    if (label?.show) {
      label.rich = { dark: { color: '#ffffff', fontSize: label.fontSize }, light: { color: '#1f2328', fontSize: label.fontSize } };
      label.formatter = (p: TooltipParams) => {
        const v = p.data[2];
        if (typeof v !== 'number' || Math.abs(v) < 0.1 * meta.scale) return '';
        return `{${Math.abs(v) >= 0.55 * meta.scale ? 'dark' : 'light'}|${short(v)}}`;
      };
    }
  }
  else if (spec.kind === 'restoration') option.tooltip.formatter = (p: TooltipParams) => restorationTooltip(meta.heads[p.data[3]], meta.title, classes);
  else if (spec.kind === 'graph') option.tooltip.formatter = (p: TooltipParams) => graphTooltip(p, meta.stages);
  else option.tooltip.valueFormatter = (v: unknown) => (typeof v === 'number' ? fmt(v) : String(v ?? '—'));
  return option;
}

function headName(head: string, classes: Record<string, string>, cls?: string): string {
  const c = cls ?? classes[head];
  return `head <b>${esc(head)}</b>${c ? ` (${esc(c.replace(/_/g, ' '))})` : ''}`;
}

function heatTooltip(data: any[], meta: { title: string; metric: string; extraName?: string }, classes: Record<string, string>): string {
  const head = `${data[1]}.${data[0]}`;
  const lines = [`<b>${esc(meta.title)}</b>`, headName(head, classes), `${esc(meta.metric)}: <b>${fmt(data[2])}</b>`];
  if (meta.extraName) lines.push(`${esc(meta.extraName)}: <b>${fmt(data[3])}</b>`);
  return lines.join('<br>');
}

function restorationTooltip(h: any, title: string, classes: Record<string, string>): string {
  if (!h) return '';
  const lines = [
    `<b>${esc(title)}</b>`,
    `${headName(h.head, classes, h.cls)}: <b>${esc(String(h.label).replace(/_/g, ' '))}</b>`,
    `clean ${fmt(h.clean)} · corrupted ${fmt(h.corrupted)} · retrained ${fmt(h.retrained)}`,
  ];
  if (typeof h.recovered === 'number') lines.push(`recovered ${fmt(h.recovered * 100)}% of the corruption change`);
  if (h.compensatedBy?.length) lines.push(`compensated by ${h.compensatedBy.map(esc).join(', ')}`);
  return lines.join('<br>');
}

function graphTooltip(p: TooltipParams, stages: Record<string, any>): string {
  if (p.dataType === 'edge') return `${esc(p.data.source)} → ${esc(p.data.target)}`;
  const s = stages[p.name];
  if (!s) return esc(p.name);
  const lines = [`<b>${esc(p.name)}</b> (${esc(s.kind)})`, `status: ${esc(s.status)} · ${esc(s.duration)}`];
  if (s.artifacts.length) lines.push(`artifacts: ${s.artifacts.map(esc).join(', ')}`);
  if (s.error) lines.push(`error: ${esc(s.error)}`);
  lines.push('<i>click: show in the stage table</i>');
  return lines.join('<br>');
}

function fmt(v: unknown): string {
  if (typeof v !== 'number' || !Number.isFinite(v)) return '—';
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1e5 || a < 1e-3) return v.toExponential(2);
  return String(Number(v.toPrecision(3)));
}

/** 2 significant digits, no exponent: 2.8, -0.41, 12, 0.031. */
function short(v: number): string {
  const a = Math.abs(v);
  if (a >= 100) return v.toFixed(0);
  return String(Number(v.toPrecision(2)));
}

function esc(text: unknown): string {
  return String(text ?? '').replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
