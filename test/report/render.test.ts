// renderReport: one self-contained HTML file (no external script/style/image reference, the chart library and the
// page script inlined), the data embedded intact, every chart with a container, hostile names escaped; and the
// ReportData shape check names the bad field.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { after, before, test } from 'node:test';
import { allCharts, balancedCellSize, buildCharts, cellSize, symmetricScale } from '../../report/charts';
import { collectReportData } from '../../report/collect';
import { checkReportData, type ReportData } from '../../report/data';
import { renderReport } from '../../report/render';
import { buildSyntheticLineage, SYNTHETIC_CONFIG, type SyntheticLineage } from './synthetic-lineage';

let lineage: SyntheticLineage;
let data: ReportData;
let html: string;

before(async () => {
  lineage = await buildSyntheticLineage();
  data = await collectReportData(lineage.store, { workflowId: lineage.workflowId, result: lineage.result, config: SYNTHETIC_CONFIG, codeVersion: '0.1.0+abc123', uiUrl: 'http://localhost:8233/x' });
  html = renderReport(data);
});
after(() => fs.rmSync(lineage.root, { recursive: true, force: true }));

/** The contents of every <script> element, with its attributes. */
function scripts(page: string): { attrs: string; body: string }[] {
  return [...page.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/gi)].map((m) => ({ attrs: m[1], body: m[2] }));
}

test('no external references: scripts and styles are inline, nothing is loaded from http(s)', () => {
  assert.doesNotMatch(html, /<script\b[^>]*\bsrc\s*=/i);
  assert.doesNotMatch(html, /<link\b/i);
  assert.doesNotMatch(html, /@import/i);
  assert.doesNotMatch(html, /<(img|iframe|embed|object|source|video|audio)\b[^>]*\b(src|data)\s*=\s*["']?https?:/i);
  assert.doesNotMatch(html, /url\(\s*["']?https?:/i);
  const list = scripts(html);
  assert.equal(list.length, 4, 'report-charts JSON, report-data JSON, the chart library, the page script');
  const library = list[2].body;
  assert.ok(library.length > 500_000, `the inlined chart library is ${library.length} characters`);
  assert.ok(library.includes('echarts'), 'the library is ECharts');
  assert.match(list[3].body, /startReport\(\)/);
  assert.doesNotMatch(list[3].body, /\brequire\(/);
  assert.match(html, /<style>[\s\S]+<\/style>/);
});

test('the embedded data round-trips and every chart has exactly one container', () => {
  const dataScript = scripts(html).find((s) => /id="report-data"/.test(s.attrs))!;
  assert.deepEqual(JSON.parse(dataScript.body), data);
  const charts = JSON.parse(scripts(html).find((s) => /id="report-charts"/.test(s.attrs))!.body) as { charts: { id: string; kind: string }[] };
  assert.deepEqual(charts.charts.map((c) => c.id), allCharts(buildCharts(data)).map((c) => c.id));
  for (const c of charts.charts) assert.equal(html.split(`id="${c.id}"`).length - 1, 1, `container of ${c.id}`);
  // the headline findings are in the static HTML
  assert.match(html, /of Σ\|Δ\| in the top 3 heads/);
  assert.match(html, /of the lost logit difference regained/);
  assert.ok(html.includes('0.1.0+abc123'));
});

test('names from the data cannot break out of the page', () => {
  const hostile = '</script><script>alert(1)</script><!--';
  const evil: ReportData = JSON.parse(JSON.stringify(data));
  evil.lineage.name = `<b>${hostile}`;
  evil.stages[0].name = hostile;
  evil.edges.push({ from: hostile, to: 'base' });
  evil.warnings.push(hostile);
  const page = renderReport(evil);
  assert.ok(!page.includes('<script>alert(1)'), 'raw script tag in the page');
  assert.equal(scripts(page).length, 4);
  const embedded = JSON.parse(scripts(page).find((s) => /id="report-data"/.test(s.attrs))!.body) as ReportData;
  assert.equal(embedded.stages[0].name, hostile);
});

test('a lineage with no results yet still renders', () => {
  const empty: ReportData = { ...data, stages: [], edges: [], lossCurves: [], traces: [], methods: [], headMaps: [], diffs: [], cmap: [], localisation: undefined, restoration: undefined };
  const page = renderReport(empty);
  assert.match(page, /No traced results yet/);
  assert.equal(allCharts(buildCharts(empty)).length, 0);
});

test('heatmap scales are symmetric around 0 and cells fit the row', () => {
  assert.equal(symmetricScale([[0.5, -2, null], [1.5]]), 2);
  assert.equal(symmetricScale([[0, null]]), 1);
  const charts = buildCharts(data);
  const first = charts.methods[0].stages[0].option as { visualMap: { min: number; max: number } };
  assert.equal(first.visualMap.min, -charts.methods[0].stageScale);
  assert.equal(first.visualMap.max, charts.methods[0].stageScale);
  assert.ok(cellSize(12, 12, 7) >= 14 && cellSize(12, 12, 7) < cellSize(3, 4, 1));
  assert.equal(cellSize(3, 4, 1), 40);
  // 6 GPT-2-small maps: 4 fit a row at the smallest cell, so two rows of 3 with larger cells
  assert.ok(balancedCellSize(12, 12, 6) > cellSize(12, 12, 4));
  assert.equal(balancedCellSize(12, 12, 6), cellSize(12, 12, 3));
  assert.equal(balancedCellSize(3, 4, 6), cellSize(3, 4, 6));
});

test('checkReportData names the bad field', () => {
  assert.throws(() => checkReportData({ ...data, schema: 'x' }, 'f.json'), /f\.json: field 'schema' must be 'plasticity\.report-data'/);
  assert.throws(() => checkReportData({ ...data, stages: {} }, 'f.json'), /field 'stages' must be an array/);
  const bad = JSON.parse(JSON.stringify(data)) as ReportData;
  bad.headMaps[1].stages[2].values.pop();
  assert.throws(() => checkReportData(bad, 'f.json'), /field 'headMaps\[1\]\.stages\[2\]\.values' must hold 12 numbers/);
  assert.equal(checkReportData(JSON.parse(JSON.stringify(data)), 'ok').lineage.name, data.lineage.name);
});
