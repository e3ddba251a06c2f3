// renderReport(data): the lineage report as ONE self-contained HTML string (inline CSS, the ECharts bundle and the
// page script inlined, the chart specs as JSON): opens offline, from a file, with no network access.
// Layout: header with the headline findings, then lineage, training, behaviour, circuit, head maps, localisation,
// restoration, CMAP and config sections. Tables and text are static HTML; charts are drawn by the page script.
import { clientScript, echartsScript, reportCss } from './assets';
import { allCharts, buildCharts, ChartSpec, DIVERGING, LABEL_COLORS, ReportCharts, STATUS_COLORS } from './charts';
import type { ReportBranch, ReportCircuit, ReportData, ReportStage, ReportTrace } from './data';
import { escapeHtml as h, formatBytes, formatDuration, formatNumber as num, formatPercent as pct, formatTime, methodTitle, scriptJson } from './format';

export function renderReport(data: ReportData): string {
  const charts = buildCharts(data);
  const lib = echartsScript();
  const title = `plasticity report · ${data.lineage.name}${data.lineage.id ? ` · ${data.lineage.id}` : ''}`;
  const payload = { charts: allCharts(charts), headClasses: data.headClasses ?? {} };
  const body = [
    header(data),
    headline(data),
    nav(data, charts),
    warnings(data),
    lineageSection(data, charts),
    trainingSection(data, charts),
    behaviourSection(data, charts),
    circuitSection(data),
    headMapSection(data, charts),
    localisationSection(data, charts),
    restorationSection(data, charts),
    branchesSection(data),
    cmapSection(data, charts),
    configSection(data),
    `<footer>Generated ${h(formatTime(data.generatedAt))} by plasticity · charts: ${h(lib.name)} (Apache-2.0), inlined · report data schema ${h(data.schema)} v${data.version}</footer>`,
  ].join('\n');
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${h(title)}</title>
<style>
${reportCss()}</style>
</head>
<body>
<main>
${body}
</main>
<script type="application/json" id="report-charts">${scriptJson(payload)}</script>
<script type="application/json" id="report-data">${scriptJson(data)}</script>
<script>${lib.code}</script>
<script>${clientScript()}</script>
</body>
</html>
`;
}

// ── Header ──────────────────────────────────────────────────────────────────────────────────────────────────────

function statusBadge(status: string): string {
  const color = STATUS_COLORS[status] ?? (status === 'completed' ? STATUS_COLORS.done : '#757575');
  return `<span class="badge" style="background:${color}">${h(status)}</span>`;
}

function header(d: ReportData): string {
  const l = d.lineage;
  const took = l.startedAt && l.finishedAt ? formatDuration((Date.parse(l.finishedAt) - Date.parse(l.startedAt)) / 1000) : undefined;
  const facts: [string, string][] = [
    ['workflow', l.id ? `<code>${h(l.id)}</code>` : '—'],
    ['started', h(formatTime(l.startedAt))],
    ['finished', l.finishedAt ? `${h(formatTime(l.finishedAt))}${took ? ` (took ${h(took)})` : ''}` : '—'],
    ['config hash', l.configHash ? `<code title="${h(l.configHash)}">${h(l.configHash.slice(0, 12))}</code>` : '—'],
    ['code version', l.codeVersion ? `<code>${h(l.codeVersion)}</code>` : '—'],
    ['store', l.storeUrl ? `<code>${h(l.storeUrl)}</code>` : '—'],
  ];
  if (l.forkOf) facts.push(['forked from', `<code>${h(l.forkOf.workflowId)}</code> at ${h(l.forkOf.stage)} with ${h(l.forkOf.set.join(' ') || 'no changes')}`]);
  if (l.uiUrl) facts.push(['Temporal UI', `<a href="${h(l.uiUrl)}">${h(l.uiUrl)}</a>`]);
  const model = d.model ? ` · ${d.model.nLayer} layers × ${d.model.nHead} heads${d.model.dModel ? `, d_model ${d.model.dModel}` : ''}` : '';
  return `<header>
<h1>${h(l.name)} ${statusBadge(l.status)}</h1>
<p class="sub">Lineage report: fine-tune → corrupt → retrain, traced at every step${h(model)}</p>
${running(d)}${l.failure ? `<p class="failure">${h(l.failure)}</p>` : ''}
<dl class="facts">${facts.map(([k, v]) => `<div><dt>${h(k)}</dt><dd>${v}</dd></div>`).join('')}</dl>
</header>`;
}

/** One line per running stage: step/total and the latest loss. */
function running(d: ReportData): string {
  return d.stages
    .filter((s) => s.status === 'running')
    .map((s) => {
      const progress = s.total ? ` step ${s.step ?? 0}/${s.total} (${pct((s.step ?? 0) / s.total)})` : '';
      const loss = s.metrics.loss !== undefined ? `, loss ${num(s.metrics.loss)}` : '';
      return `<p class="running">Running: <b>${h(s.name)}</b>${progress}${loss}</p>`;
    })
    .join('');
}

function headClass(d: ReportData, head: string, cls?: string): string {
  const c = cls ?? d.headClasses?.[head];
  return c ? ` <span class="cls">${h(c.replace(/_/g, ' '))}</span>` : '';
}

/** The localisation k shown in the headline: the lineage's configured top_k when the result names it, else 5. */
function headlineK(d: ReportData, shares: Record<string, number | null>): string | undefined {
  const fromHeadline = Object.keys(d.lineage.headline ?? {})
    .map((k) => /^localisation\.top(\d+)_share$/.exec(k)?.[1])
    .find((k) => k && k in shares);
  return fromHeadline ?? ('5' in shares ? '5' : Object.keys(shares)[0]);
}

function cleanTrace(d: ReportData): ReportTrace | undefined {
  const name = d.restoration?.clean ?? d.localisation?.from;
  return d.traces.find((t) => t.label === name) ?? [...d.traces].reverse().find((t) => t.role === 'clean' && t.circuit);
}

function headline(d: ReportData): string {
  const cards: string[] = [];
  if (d.traces.length) {
    const items = d.traces.map((t) => `<span class="ld"><span class="lbl">${h(t.label)}</span> <b class="${(t.metrics.logitDiff ?? 0) < 0 ? 'neg' : 'pos'}">${num(t.metrics.logitDiff)}</b></span>`);
    cards.push(card('Logit difference per stage', items.join('<span class="arrow">→</span>'), 'logit(IO) − logit(S) at END, mean over the traced prompts', 'wide'));
  }
  const loc = d.localisation;
  const locMethod = loc?.byMethod[loc.primaryMethod] ?? (loc ? Object.values(loc.byMethod)[0] : undefined);
  if (loc && locMethod) {
    const k = headlineK(d, locMethod.topShare);
    const heads = locMethod.changed.slice(0, Number(k ?? 3)).map((c) => `<b>${h(c.head)}</b>${headClass(d, c.head, c.cls)} (${num(c.delta)})`);
    cards.push(
      card(
        'Corruption localisation',
        `<span class="big">${pct(k ? locMethod.topShare[k] : null)}</span> of Σ|Δ| in the top ${h(k ?? '?')} heads`,
        `${h(loc.from)} → ${h(loc.to)}, ${h(methodTitle(loc.primaryMethod))}: ${heads.join(', ') || 'no head changed'}`,
      ),
    );
  }
  const r = d.restoration;
  if (r) {
    const mech = r.mechanistic[r.primaryMethod];
    cards.push(
      card(
        'Restoration',
        `<span class="big">${pct(r.behavioural.fraction)}</span> of the lost logit difference regained`,
        `${h(r.retrained)}: LD ${num(r.behavioural.ldCorrupted)} → ${num(r.behavioural.ldRetrained)} (clean ${num(r.behavioural.ldClean)})` +
          (mech
            ? `; head map vs clean r = <b>${num(mech.pearson, 2)}</b> (corrupted: ${num(mech.corruptedPearson, 2)}); ` +
              `${mech.counts.restored} restored, ${mech.counts.compensated} compensated, ${mech.counts.still_corrupted} still corrupted`
            : '') +
          (r.behaviourRestoredMechanismNot ? '; <b>behaviour restored, mechanism not</b>' : ''),
      ),
    );
  }
  const clean = cleanTrace(d);
  if (clean?.circuit) {
    const f = clean.circuit.faithfulness;
    cards.push(
      card(
        'Circuit faithfulness',
        `<span class="big">${pct(f.ratio)}</span> F(C)/F(M)`,
        `${h(clean.label)}: ${clean.circuit.heads.length}-head circuit (${clean.circuit.heads.slice(0, 8).map(h).join(', ')}${clean.circuit.heads.length > 8 ? ', …' : ''}); Wang's 1 − |F(M) − F(C)|/|F(M)| = ${num(f.wang, 2)}`,
      ),
    );
  }
  if (!cards.length) return '<section class="headline"><p class="muted">No traced results yet.</p></section>';
  return `<section class="headline" id="headline">${cards.join('\n')}</section>`;
}

function card(title: string, value: string, sub: string, cls = ''): string {
  return `<div class="card ${cls}"><div class="k">${h(title)}</div><div class="v">${value}</div><div class="s">${sub}</div></div>`;
}

function nav(d: ReportData, c: ReportCharts): string {
  const links: [string, string, boolean][] = [
    ['lineage', 'Lineage', true],
    ['training', 'Training', c.loss.length > 0],
    ['behaviour', 'IOI metrics', d.traces.length > 0],
    ['circuit', 'Circuit', d.traces.some((t) => t.circuit)],
    ['heads', 'Head maps', c.methods.length > 0],
    ['localisation', 'Localisation', !!d.localisation],
    ['restoration', 'Restoration', !!d.restoration],
    ['branches', 'Branches', !!d.branches?.length],
    ['cmap', 'CMAP', d.cmap.length > 0],
    ['config', 'Config', true],
  ];
  return `<nav>${links.filter(([, , on]) => on).map(([id, label]) => `<a href="#${id}">${h(label)}</a>`).join('')}</nav>`;
}

function warnings(d: ReportData): string {
  if (!d.warnings.length) return '';
  return `<section class="warnings"><b>Some results could not be read:</b><ul>${d.warnings.map((w) => `<li>${h(w)}</li>`).join('')}</ul></section>`;
}

// ── Charts in the page ──────────────────────────────────────────────────────────────────────────────────────────

function chartDiv(spec: ChartSpec): string {
  const width = spec.width ? `width:${spec.width}px;` : 'width:100%;';
  return `<div id="${spec.id}" class="chart" data-chart="${spec.kind}" style="${width}height:${spec.height}px"></div>`;
}

/** A chart with a caption; fixed-width charts fix the figure's width so long captions wrap instead of widening it. */
export function figure(spec: ChartSpec, caption: string): string {
  const style = spec.width ? ` style="width:${spec.width + 10}px"` : '';
  return `<figure class="fig"${style}>${caption ? `<figcaption>${caption}</figcaption>` : ''}${chartDiv(spec)}</figure>`;
}

function scaleLegend(scale: number, what: string): string {
  return `<div class="scale"><span>${num(-scale)}</span><span class="bar" style="background:linear-gradient(to right,${DIVERGING.join(',')})"></span><span>+${num(scale)}</span><span class="muted">${h(what)}</span></div>`;
}

// ── Sections ────────────────────────────────────────────────────────────────────────────────────────────────────

function section(id: string, title: string, body: string, intro = ''): string {
  return `<section id="${id}"><h2>${h(title)}</h2>${intro ? `<p class="intro">${intro}</p>` : ''}${body}</section>`;
}

function lineageSection(d: ReportData, c: ReportCharts): string {
  const legend = Object.entries(STATUS_COLORS)
    .filter(([s]) => d.stages.some((x) => x.status === s))
    .map(([s, color]) => `<span class="key"><i style="background:${color}"></i>${h(s)}</span>`)
    .join('');
  const graph = c.graph ? `<div class="legend">${legend}</div>${chartDiv(c.graph)}` : '<p class="muted">No stages.</p>';
  return section('lineage', 'Lineage', graph + stageTable(d.stages), 'Stages in data-flow order; click a stage to find it in the table. Cached stages were reused from an earlier run.');
}

function artifactCell(a: ReportStage['artifacts'][number]): string {
  const link = a.uri.startsWith('file://') ? `<a href="${h(a.uri)}" title="${h(a.uri)}">${h(a.name)}</a>` : `<span title="${h(a.uri)}">${h(a.name)}</span>`;
  return `<div class="art">${link} <span class="muted">${h(a.kind)} · ${formatBytes(a.bytes)} · <code title="${h(a.sha256)}">${h(a.sha256.slice(0, 10))}</code></span></div>`;
}

function metricsCell(m: Record<string, number>): string {
  const entries = Object.entries(m);
  if (!entries.length) return '';
  return entries
    .slice(0, 8)
    .map(([k, v]) => `<span class="metric">${h(k)} <b>${num(v)}</b></span>`)
    .join(' ') + (entries.length > 8 ? ` <span class="muted">+${entries.length - 8} more</span>` : '');
}

function stageTable(stages: ReportStage[]): string {
  const rows = stages.map((s) => {
    const progress = s.status === 'running' && s.total ? ` <span class="muted">${s.step ?? 0}/${s.total}</span>` : '';
    return `<tr id="stage-${h(s.name)}"><td class="nowrap"><b>${h(s.name)}</b></td><td>${h(s.kind)}</td><td>${statusBadge(s.status)}${progress}${s.error ? `<div class="err">${h(s.error)}</div>` : ''}</td>` +
      `<td class="nowrap">${h(formatTime(s.startedAt).replace(' UTC', ''))}</td><td class="num">${h(formatDuration(s.durationSeconds))}</td><td>${metricsCell(s.metrics)}</td><td>${s.artifacts.map(artifactCell).join('')}</td></tr>`;
  });
  return `<table class="stages"><thead><tr><th>stage</th><th>kind</th><th>status</th><th>started (UTC)</th><th>duration</th><th>metrics</th><th>artifacts</th></tr></thead><tbody>${rows.join('')}</tbody></table>`;
}

function trainingSection(d: ReportData, c: ReportCharts): string {
  if (!c.loss.length) return '';
  const figs = c.loss.map((spec, i) => figure(spec, `<b>${h(d.lossCurves.filter((x) => x.points.length)[i].stage)}</b> training loss`));
  return section('training', 'Training', `<div class="grid2">${figs.join('')}</div>`, 'Loss per optimizer step from each train stage\'s final checkpoint (downsampled); dashed lines mark the named checkpoints.');
}

function behaviourSection(d: ReportData, c: ReportCharts): string {
  if (!d.traces.length) return '';
  const [ld, acc] = c.metrics;
  const figs = `<div class="grid2">${figure(ld, 'Logit difference (clean and ABC-corrupted prompts)')}${figure(acc, 'Accuracy and IO probability')}</div>`;
  const duration = c.duration ? figure(c.duration, 'Clean fine-tune duration: behaviour and circuit faithfulness against epochs') : '';
  const rows = d.traces.map((t) => {
    const m = t.metrics;
    return `<tr><td><b>${h(t.label)}</b></td><td>${h(t.role ?? '')}</td><td class="num">${num(m.logitDiff)} ± ${num(m.logitDiffStd, 2)}</td><td class="num">${num(m.corruptLogitDiff)}</td>` +
      `<td class="num">${pct(m.pairwiseAcc, 1)}</td><td class="num">${pct(m.top1Acc, 1)}</td><td class="num">${num(m.ioProb)}</td><td class="num">${m.n}</td>` +
      `<td class="num">${t.attributionVsExact === undefined ? '—' : num(t.attributionVsExact, 2)}</td></tr>`;
  });
  const table = `<table><thead><tr><th>model</th><th>role</th><th>logit diff</th><th>LD corrupted prompts</th><th>pairwise acc</th><th>top-1 acc</th><th>IO prob</th><th>n</th><th>attribution vs exact ρ</th></tr></thead><tbody>${rows.join('')}</tbody></table>`;
  return section('behaviour', 'IOI metrics per stage', figs + duration + table);
}

function circuitRow(label: string, c: ReportCircuit, kind: string): string {
  const f = c.faithfulness;
  return `<tr><td><b>${h(label)}</b></td><td>${h(kind)}</td><td class="num">${c.heads.length}</td><td class="num">${num(f.fModel)}</td><td class="num">${num(f.fCircuit)}</td>` +
    `<td class="num">${pct(f.ratio, 1)}</td><td class="num">${num(f.wang, 3)}</td><td class="num">${c.completenessMaxRelative === undefined ? '—' : num(c.completenessMaxRelative, 2)}</td>` +
    `<td class="num">${c.minimality ? `${c.minimality.passed}/${c.minimality.total}` : '—'}</td><td class="heads">${c.heads.map(h).join(', ')}${c.rankedBy ? ` <span class="muted">(ranked by ${h(methodTitle(c.rankedBy))}${c.reached === false ? ', target not reached' : ''})</span>` : ''}</td></tr>`;
}

function circuitSection(d: ReportData): string {
  const rows = d.traces.flatMap((t) => [
    ...(t.circuit ? [circuitRow(t.label, t.circuit, 're-found')] : []),
    ...(t.reference ? [circuitRow(t.label, t.reference, "Wang's 26 heads")] : []),
  ]);
  if (!rows.length) return '';
  return section(
    'circuit',
    'Circuit and faithfulness',
    `<table><thead><tr><th>model</th><th>circuit</th><th>heads</th><th>F(M)</th><th>F(C)</th><th>F(C)/F(M)</th><th>Wang faithfulness</th><th>incompleteness (max, rel.)</th><th>minimality passed</th><th>heads</th></tr></thead><tbody>${rows.join('')}</tbody></table>`,
    'F(·) is the mean logit difference with everything outside the circuit mean-ablated; a faithful circuit keeps F(C) close to F(M).',
  );
}

function headMapSection(d: ReportData, c: ReportCharts): string {
  if (!c.methods.length) return '';
  const roleOf = new Map(d.traces.map((t) => [t.label, t.role]));
  const groups = c.methods.map((m) => {
    const mm = d.headMaps.find((x) => x.method === m.method)!;
    const stageFigs = m.stages.map((spec, i) => {
      const label = mm.stages[i].label;
      const role = roleOf.get(label);
      return figure(spec, `<b>${h(label)}</b>${role ? ` <span class="role">${h(role)}</span>` : ''}`);
    });
    const diffs = d.diffs.filter((x) => x.method === m.method);
    const diffFigs = m.diffs.map((spec, i) => {
      const x = diffs[i];
      const stats = x.pearson !== undefined ? `<br><span class="muted">r ${num(x.pearson ?? null, 3)} · Σ|Δ| ${num(x.totalAbsDelta ?? null)}</span>` : '';
      return figure(spec, `<b>${h(x.to)}</b> − ${h(x.from)}${stats}`);
    });
    return `<div class="method" id="heads-${h(m.method.replace(/[^A-Za-z0-9_-]/g, '-'))}">
<h3>${h(methodTitle(m.method))} <span class="muted mono">${h(m.method)}</span></h3>
<p class="metric">${h(m.metric)}</p>
${scaleLegend(m.stageScale, 'per stage (shared scale)')}
<div class="maps">${stageFigs.join('')}</div>
${diffFigs.length ? `<h4>Change between adjacent stages</h4>${scaleLegend(m.diffScale, 'difference (shared scale)')}<div class="maps">${diffFigs.join('')}</div>` : ''}
</div>`;
  });
  return section('heads', 'Head maps (layer × head)', groups.join('\n'), 'Every trace method, per traced model and as the change from the previous model. Red is positive, blue negative, white zero; hover a cell for the head and its value.');
}

function localisationSection(d: ReportData, c: ReportCharts): string {
  const loc = d.localisation;
  if (!loc) return '';
  const methods = [loc.primaryMethod, ...Object.keys(loc.byMethod).filter((m) => m !== loc.primaryMethod)].filter((m) => loc.byMethod[m]);
  const shares = c.localisationShares ? figure(c.localisationShares, 'Share of the total |Δ score| held by the top-k heads') : '';
  const blocks = methods.map((m) => {
    const x = loc.byMethod[m];
    const chart = c.localisation.find((l) => l.method === m);
    const rows = x.changed.slice(0, 10).map((ch, i) => `<tr><td class="num">${i + 1}</td><td class="nowrap"><b>${h(ch.head)}</b>${headClass(d, ch.head, ch.cls)}</td><td class="num">${num(ch.from)}</td><td class="num">${num(ch.to)}</td><td class="num ${ch.delta < 0 ? 'neg' : 'pos'}">${num(ch.delta)}</td></tr>`);
    const table = `<table class="compact"><thead><tr><th>#</th><th>head</th><th>${h(loc.from)}</th><th>${h(loc.to)}</th><th>Δ</th></tr></thead><tbody>${rows.join('')}</tbody></table>`;
    const summary = Object.entries(x.topShare).map(([k, v]) => `top ${h(k)}: <b>${pct(v)}</b>`).join(' · ');
    return `<div class="block"><h3>${h(methodTitle(m))}${m === loc.primaryMethod ? ' <span class="role">primary</span>' : ''}</h3><p class="small">${summary} · Σ|Δ| ${num(x.totalAbsDelta)}</p>
${chart ? `${scaleLegend(chart.scale, `${loc.to} − ${loc.from}`)}${figure(chart.chart, '')}` : ''}${table}</div>`;
  });
  return section('localisation', 'Corruption localisation', `${shares}<div class="cards">${blocks.join('')}</div>`, `How the head maps changed from the clean model <b>${h(loc.from)}</b> to the corrupted <b>${h(loc.to)}</b>, and which heads changed most.`);
}

/** A value with its bootstrap interval: "1.23 [0.98, 1.51]". */
function withInterval(value: number | null | undefined, iv: { lo: number | null; hi: number | null } | undefined, format: (v: number | null | undefined) => string): string {
  return `${format(value)}${iv ? ` <span class="muted ci">[${format(iv.lo)}, ${format(iv.hi)}]</span>` : ''}`;
}

/** A diverging background for a head-map change, scaled to ±scale. */
function divergingCell(v: number | null, scale: number): string {
  if (v === null || !Number.isFinite(v) || scale <= 0) return '<td class="num muted">–</td>';
  const i = Math.max(0, Math.min(DIVERGING.length - 1, Math.round(((v / scale + 1) / 2) * (DIVERGING.length - 1))));
  return `<td class="num" style="background:${DIVERGING[i]}">${num(v, 3)}</td>`;
}

/** Every corruption branch side by side, and the heads where the branches' corruptions differ most. */
function branchesSection(d: ReportData): string {
  const branches = d.branches;
  if (!branches?.length) return '';
  const k = headlineK(d, branches[0].topShare) ?? '5';
  const share = (b: ReportBranch) => b.topShare[k] ?? null;
  const heads = (b: ReportBranch, label: 'restored' | 'compensated' | 'still_corrupted') => (b.heads[label]?.length ? b.heads[label].map(h).join(', ') : '<span class="muted">–</span>');
  const rows = branches.map((b) => {
    const iv = b.intervals;
    return `<tr data-branch="${h(b.name)}"><td><b>${h(b.name)}</b></td><td>${h(b.transform ?? '')}</td><td class="num">${b.rate ?? ''}</td>` +
      `<td class="num">${withInterval(b.behavioural.ldClean, iv?.ldClean, (v) => num(v))}</td>` +
      `<td class="num">${withInterval(b.behavioural.ldCorrupted, iv?.ldCorrupted, (v) => num(v))}</td>` +
      `<td class="num">${withInterval(b.behavioural.ldRetrained, iv?.ldRetrained, (v) => num(v))}</td>` +
      `<td class="num">${withInterval(share(b), iv?.topShare?.[k], (v) => pct(v, 1))}</td>` +
      `<td class="num">${withInterval(b.behavioural.fraction, iv?.behavioural, (v) => pct(v, 1))}</td>` +
      `<td class="num">${withInterval(b.pearson, iv?.mechanistic, (v) => num(v, 3))}</td>` +
      `<td class="num">${b.faithfulness.retrained !== undefined ? withInterval(b.faithfulness.retrained, iv?.faithfulness?.retrained, (v) => pct(v, 1)) : '<span class="muted">–</span>'}</td>` +
      `<td>${heads(b, 'restored')}</td><td>${heads(b, 'compensated')}</td><td>${heads(b, 'still_corrupted')}</td></tr>`;
  });
  const table = `<table class="branches"><thead><tr><th>branch</th><th>transform</th><th>rate</th><th>LD clean</th><th>LD corrupted</th><th>LD retrained</th><th>top-${k} share</th><th>behavioural restoration</th><th>mechanistic (Pearson)</th><th>faithfulness retrained</th><th>restored</th><th>compensated</th><th>still corrupted</th></tr></thead><tbody>${rows.join('')}</tbody></table>`;
  const samples = branches.find((b) => b.intervals)?.intervals?.samples;
  const without = [
    branches.some((b) => b.intervals && !b.intervals.topShare) ? 'the localisation share and mechanistic correlation (no per-prompt head scores of the primary method)' : '',
    branches.some((b) => b.intervals && b.faithfulness.retrained !== undefined && !b.intervals.faithfulness?.retrained) ? 'the faithfulness (no per-prompt circuit values)' : '',
  ].filter(Boolean);
  const note = samples
    ? `<p class="muted">Brackets: 95 % percentile bootstrap intervals over the traced prompts (${samples} resamples, the same resample for a branch's three models). ${without.length ? ` No interval for ${without.join(' or ')}.` : ''}</p>`
    : '<p class="muted">No per-prompt values in these traces, so no intervals.</p>';
  // Which heads each poison attacks: Δ(corrupted − clean) per branch, heads where the branches differ most first.
  let diff = '';
  const maps = branches.filter((b) => b.delta);
  if (maps.length >= 2 && d.model) {
    const nHead = d.model.nHead;
    const cells = maps[0].delta!.length;
    const spread = (i: number) => {
      const vs = maps.map((b) => b.delta![i]).filter((v): v is number => v !== null && Number.isFinite(v));
      return vs.length ? Math.max(...vs) - Math.min(...vs) : 0;
    };
    const order = [...Array(cells).keys()].sort((a, b) => spread(b) - spread(a) || a - b).slice(0, 12);
    const scale = Math.max(1e-12, ...maps.flatMap((b) => b.delta!.map((v) => (v !== null && Number.isFinite(v) ? Math.abs(v) : 0))));
    const head = (i: number) => `${Math.floor(i / nHead)}.${i % nHead}`;
    const diffRows = order.map((i) => `<tr><td><b>${head(i)}</b>${headClass(d, head(i))}</td>${maps.map((b) => divergingCell(b.delta![i], scale)).join('')}<td class="num">${num(spread(i), 3)}</td></tr>`);
    diff = `<h3>Which heads each poison attacks</h3><p class="intro">Change of the ${h(methodTitle(maps[0].method))} score from the clean to the corrupted model per branch; the heads where the branches differ most first.</p>` +
      `<table class="branch-heads"><thead><tr><th>head</th>${maps.map((b) => `<th>${h(b.name)}</th>`).join('')}<th>spread</th></tr></thead><tbody>${diffRows.join('')}</tbody></table>${scaleLegend(scale, 'Δ score (corrupted − clean)')}`;
  }
  return section('branches', 'Corruption branches', table + note + diff, `Each branch corrupts <b>${h(branches[0].clean)}</b> with its own poisoning and retrains it on clean data.`);
}

function restorationSection(d: ReportData, c: ReportCharts): string {
  const r = d.restoration;
  if (!r) return '';
  const b = r.behavioural;
  const behaviour = `<div class="side"><div>${c.restorationBars ? figure(c.restorationBars, 'Logit difference: clean, corrupted, retrained') : ''}</div>
<div class="prose"><p>Behavioural restoration: <span class="big">${pct(b.fraction, 1)}</span> of the logit difference lost to the corruption was regained by retraining
(LD ${num(b.ldClean)} → ${num(b.ldCorrupted)} → ${num(b.ldRetrained)}).</p>
${r.behaviourRestoredMechanismNot ? '<p class="failure">Behaviour is restored but the primary head map is not: the retrained model solves the task with a different mechanism.</p>' : ''}</div></div>`;
  const methods = [r.primaryMethod, ...Object.keys(r.mechanistic).filter((m) => m !== r.primaryMethod)].filter((m) => r.mechanistic[m]);
  const corrRows = methods.map((m) => {
    const x = r.mechanistic[m];
    return `<tr><td>${h(methodTitle(m))}${m === r.primaryMethod ? ' <span class="role">primary</span>' : ''}</td><td class="num">${num(x.pearson, 3)}</td><td class="num">${num(x.spearman, 3)}</td><td class="num">${num(x.corruptedPearson, 3)}</td><td class="num">${num(x.corruptedSpearman, 3)}</td>` +
      `<td class="num">${x.counts.restored}</td><td class="num">${x.counts.compensated}</td><td class="num">${x.counts.still_corrupted}</td><td class="num">${x.counts.recruited}</td><td class="num">${x.counts.unchanged}</td></tr>`;
  });
  const corr = `<table><thead><tr><th>method</th><th>Pearson retrained vs clean</th><th>Spearman</th><th>Pearson corrupted vs clean</th><th>Spearman</th><th>restored</th><th>compensated</th><th>still corrupted</th><th>recruited</th><th>unchanged</th></tr></thead><tbody>${corrRows.join('')}</tbody></table>`;
  const legend = Object.entries(LABEL_COLORS).map(([l, color]) => `<span class="key"><i style="background:${color}"></i>${h(l.replace(/_/g, ' '))}</span>`).join('');
  const maps = methods.map((m) => {
    const chart = c.restoration.find((x) => x.method === m);
    const heads = r.mechanistic[m].heads;
    const named = (['still_corrupted', 'compensated', 'restored', 'recruited'] as const)
      .map((label) => {
        const list = heads.filter((x) => x.label === label);
        if (!list.length) return '';
        const items = list.map((x) => `<b>${h(x.head)}</b>${headClass(d, x.head, x.cls)}${x.compensatedBy?.length ? ` <span class="muted">by ${x.compensatedBy.map(h).join(', ')}</span>` : ''}`);
        return `<li><span class="key"><i style="background:${LABEL_COLORS[label]}"></i>${h(label.replace(/_/g, ' '))}</span> ${items.join(', ')}</li>`;
      })
      .filter(Boolean);
    return `<div class="block"><h3>${h(methodTitle(m))}</h3>${chart ? figure(chart.chart, '') : ''}<ul class="named">${named.join('') || '<li class="muted">No head changed beyond the threshold.</li>'}</ul></div>`;
  });
  return section(
    'restoration',
    'Restoration',
    behaviour + corr + `<h3>Per-head restoration</h3><div class="legend">${legend}</div><div class="cards">${maps.join('')}</div>`,
    `Clean <b>${h(r.clean)}</b>, corrupted <b>${h(r.corrupted)}</b>, retrained <b>${h(r.retrained)}</b>. A head is restored when its score is back near the clean one, compensated when others make up for it.`,
  );
}

function cmapSection(d: ReportData, c: ReportCharts): string {
  if (!d.cmap.length) return '';
  const blocks = d.cmap.map((p, i) => {
    const group = c.cmap[i];
    const figs = (group?.charts ?? []).map((spec, j) => figure(spec, `<b>${h(p.sweeps[j].key)}</b>`));
    const sets = p.sets.length
      ? `<table class="compact"><thead><tr><th>head set</th><th>patched</th><th>heads</th><th>Δ</th><th>normalised</th></tr></thead><tbody>${p.sets
          .map((s) => `<tr><td>${h(s.name)}</td><td class="nowrap">${h(s.kinds.join('+'))} @ ${h(s.positions)}${s.freezeNonEnd ? ' (via END)' : ''}</td><td class="heads">${s.heads.map(h).join(', ')}</td><td class="num">${num(s.delta)}</td><td class="num">${num(s.normalised)}</td></tr>`)
          .join('')}</tbody></table>`
      : '';
    return `<div class="block"><h3>${h(p.receiver)} ← ${h(p.donor)}</h3><p class="small">F(receiver) ${num(p.fReceiver)} · F(donor) ${num(p.fDonor)}</p>
${group ? scaleLegend(group.scale, 'ΔCMAP') : ''}<div class="maps">${figs.join('')}</div>${sets}</div>`;
  });
  return section('cmap', 'Cross-model activation patching (CMAP)', `<div class="cards">${blocks.join('')}</div>`, 'Each traced model (receiver) run with one head\'s activation taken from the previous model (donor): ΔCMAP = F_A[h←B] − F_A; the tooltip also gives the normalised form (F_A[h←B] − F_A)/(F_B − F_A).');
}

function configSection(d: ReportData): string {
  const config = d.config === undefined ? '<p class="muted">Not recorded.</p>' : `<pre>${h(JSON.stringify(d.config, null, 2))}</pre>`;
  const code = d.lineage.codeVersion ? `<p>Code version <code>${h(d.lineage.codeVersion)}</code>${d.lineage.configHash ? `, config hash <code>${h(d.lineage.configHash)}</code>` : ''}.</p>` : '';
  return section('config', 'Config and code version', `${code}<details${d.config === undefined ? '' : ' open'}><summary>experiment config (JSON)</summary>${config}</details>`);
}
