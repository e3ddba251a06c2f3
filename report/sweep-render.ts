// renderSweepReport(data): the sweep report as one self-contained HTML page in the lineage report's look (its CSS,
// the inlined ECharts bundle and page script): per setting the headline numbers as mean ± std across seeds, the
// traced models' metrics, loss curves (mean and ±1 std band), and the head maps' mean, std and stability band.
import { clientScript, echartsScript, reportCss } from './assets';
import { cellSize, heatmap, lossBandChart, symmetricScale, type ChartSpec } from './charts';
import { escapeHtml as h, formatNumber as num, formatTime, scriptJson } from './format';
import { figure } from './render';
import type { SettingAggregate, Spread, SweepData } from './sweep-aggregate';

const pm = (s: Spread | undefined) => (!s || s.mean === null ? '—' : `${num(s.mean)} ± ${num(s.std, 2)} <span class="muted">(n=${s.n})</span>`);

function settingSection(s: SettingAggregate, i: number, charts: ChartSpec[]): string {
  const headline = Object.entries(s.headline)
    .map(([k, v]) => `<tr><td>${h(k)}</td><td class="num">${pm(v)}</td><td class="num">${num(v.min)} … ${num(v.max)}</td></tr>`)
    .join('');
  const metricNames = [...new Set(Object.values(s.traces).flatMap((m) => Object.keys(m)))];
  const traceRows = Object.entries(s.traces)
    .map(([label, ms]) => `<tr><td><b>${h(label)}</b></td>${metricNames.map((n) => `<td class="num">${pm(ms[n])}</td>`).join('')}</tr>`)
    .join('');
  const losses = s.lossCurves.filter((c) => c.steps.length > 1).map((c, j) => {
    const spec = lossBandChart(`sweep-${i}-loss-${j}`, c);
    charts.push(spec);
    return figure(spec, `${h(c.stage)}: loss, mean across seeds with a ±1 std band`);
  });
  const maps: string[] = [];
  if (s.model) {
    const { nLayer, nHead } = s.model;
    const cell = Math.min(cellSize(nLayer, nHead), 28);
    s.headMaps.forEach((m, j) => {
      const scale = symmetricScale([m.mean]) || 1;
      const stdScale = symmetricScale([m.std]) || 1;
      const specs = [
        heatmap({ id: `sweep-${i}-map-${j}-mean`, title: 'mean', grid: m.mean, nLayer, nHead, scale, metric: m.metric, extra: { name: 'std', grid: m.std }, cell }),
        heatmap({ id: `sweep-${i}-map-${j}-std`, title: 'std', grid: m.std, nLayer, nHead, scale: stdScale, metric: `std of ${m.metric}`, cell }),
        heatmap({ id: `sweep-${i}-map-${j}-stab`, title: 'stability', grid: m.stability, nLayer, nHead, scale: 1, metric: 'fraction of seeds agreeing with the mean (sign, ≥ half magnitude)', cell }),
      ];
      charts.push(...specs);
      maps.push(`<div class="row"><h4>${h(m.method)} · ${h(m.label)}</h4>${specs.map((sp) => figure(sp, h(sp.id.split('-').pop() === 'stab' ? 'stability band' : sp.id.split('-').pop()!))).join('')}</div>`);
    });
  }
  return `<section id="setting-${i}"><h2>${h(s.setting)}</h2><p class="intro">${s.points.length} points (${h(s.seeds.join('; '))}); mean ± sample std across seeds.</p>
<h3>Headline</h3><table><thead><tr><th>number</th><th>mean ± std</th><th>range</th></tr></thead><tbody>${headline || '<tr><td colspan="3" class="muted">no completed points</td></tr>'}</tbody></table>
<h3>Traced models</h3><table><thead><tr><th>model</th>${metricNames.map((n) => `<th>${h(n)}</th>`).join('')}</tr></thead><tbody>${traceRows}</tbody></table>
${losses.length ? `<h3>Loss curves</h3>${losses.join('')}` : ''}
${maps.length ? `<h3>Head maps: mean, spread and stability band</h3><p class="intro">Stability 1 = every seed gives the head the mean's role; low = a seed artefact.</p>${maps.join('')}` : ''}
</section>`;
}

export function renderSweepReport(data: SweepData): string {
  const lib = echartsScript();
  const charts: ChartSpec[] = [];
  const points = data.points
    .map((p) => `<tr><td class="num">${p.index}</td><td>${h(p.label || '(base config)')}</td><td>${h(p.status)}</td><td><code>${h(p.workflowId ?? '—')}</code></td><td>${p.reportUri ? `<code>${h(p.reportUri)}</code>` : '—'}</td></tr>`)
    .join('');
  const sections = data.settings.map((s, i) => settingSection(s, i, charts)).join('\n');
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${h(`plasticity sweep · ${data.name}${data.sweepId ? ` · ${data.sweepId}` : ''}`)}</title>
<style>
${reportCss()}</style>
</head>
<body>
<main>
<header><h1>${h(data.name)} <span class="badge" style="background:#1b7837">sweep</span></h1>
<p class="sub">Sweep report: ${data.points.length} lineages, ${data.settings.length} settings${data.sweepId ? ` · <code>${h(data.sweepId)}</code>` : ''}</p></header>
<section id="points"><h2>Points</h2><table><thead><tr><th>#</th><th>overrides</th><th>status</th><th>lineage</th><th>report</th></tr></thead><tbody>${points}</tbody></table></section>
${sections}
<footer>Generated ${h(formatTime(data.generatedAt))} by plasticity · sweep data schema ${h(data.schema)}</footer>
</main>
<script type="application/json" id="report-charts">${scriptJson({ charts, headClasses: {} })}</script>
<script type="application/json" id="report-data">${scriptJson(data)}</script>
<script>${lib.code}</script>
<script>${clientScript()}</script>
</body>
</html>
`;
}
