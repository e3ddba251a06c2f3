// renderReport: one self-contained HTML file (no external script/style/image reference, the chart library and the
// page script inlined), the data embedded intact, every chart with a container, hostile names escaped; and the
// ReportData shape check names the bad field.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { allCharts, balancedCellSize, buildCharts, cellSize, symmetricScale } from '../../report/charts';
import { checkReportData, type ReportData } from '../../report/data';
import { renderReport } from '../../report/render';
import { CODE_VERSION, syntheticFixture } from './synthetic-lineage';

const fx = syntheticFixture({ uiUrl: 'http://localhost:8233/x' });
let rendered: string | undefined;
/** The report of the fixture's data, rendered once (after the fixture's before hook has run). */
const report = (): string => (rendered ??= renderReport(fx.data));

/** The contents of every <script> element, with its attributes. */
function scripts(page: string): { attrs: string; body: string }[] {
  return [...page.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/gi)].map((m) => ({ attrs: m[1], body: m[2] }));
}

test('no external references: scripts and styles are inline, nothing is loaded from http(s)', () => {
  assert.doesNotMatch(report(), /<script\b[^>]*\bsrc\s*=/i);
  assert.doesNotMatch(report(), /<link\b/i);
  assert.doesNotMatch(report(), /@import/i);
  assert.doesNotMatch(report(), /<(img|iframe|embed|object|source|video|audio)\b[^>]*\b(src|data)\s*=\s*["']?https?:/i);
  assert.doesNotMatch(report(), /url\(\s*["']?https?:/i);
  const list = scripts(report());
  assert.equal(list.length, 4, 'report-charts JSON, report-data JSON, the chart library, the page script');
  const library = list[2].body;
  assert.ok(library.length > 500_000, `the inlined chart library is ${library.length} characters`);
  assert.ok(library.includes('echarts'), 'the library is ECharts');
  assert.match(list[3].body, /startReport\(\)/);
  assert.doesNotMatch(list[3].body, /\brequire\(/);
  assert.match(report(), /<style>[\s\S]+<\/style>/);
});

test('the embedded data round-trips and every chart has exactly one container', () => {
  const dataScript = scripts(report()).find((s) => /id="report-data"/.test(s.attrs))!;
  assert.deepEqual(JSON.parse(dataScript.body), fx.data);
  const charts = JSON.parse(scripts(report()).find((s) => /id="report-charts"/.test(s.attrs))!.body) as { charts: { id: string; kind: string }[] };
  assert.deepEqual(charts.charts.map((c) => c.id), allCharts(buildCharts(fx.data)).map((c) => c.id));
  for (const c of charts.charts) assert.equal(report().split(`id="${c.id}"`).length - 1, 1, `container of ${c.id}`);
  // the headline findings are in the static HTML
  assert.match(report(), /of Σ\|Δ\| in the top 3 heads/);
  assert.match(report(), /of the lost logit difference regained/);
  assert.ok(report().includes(CODE_VERSION));
});

test('names from the data cannot break out of the page', () => {
  const hostile = '</script><script>alert(1)</script><!--';
  const evil: ReportData = JSON.parse(JSON.stringify(fx.data));
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
  const empty: ReportData = { ...fx.data, stages: [], edges: [], lossCurves: [], traces: [], methods: [], headMaps: [], diffs: [], cmap: [], localisation: undefined, restoration: undefined };
  const page = renderReport(empty);
  assert.match(page, /No traced results yet/);
  assert.equal(allCharts(buildCharts(empty)).length, 0);
});

test('heatmap scales are symmetric around 0 and cells fit the row', () => {
  assert.equal(symmetricScale([[0.5, -2, null], [1.5]]), 2);
  assert.equal(symmetricScale([[0, null]]), 1);
  const charts = buildCharts(fx.data);
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
  assert.throws(() => checkReportData({ ...fx.data, schema: 'x' }, 'f.json'), /f\.json: field 'schema' must be 'plasticity\.report-data'/);
  assert.throws(() => checkReportData({ ...fx.data, stages: {} }, 'f.json'), /field 'stages' must be an array/);
  const bad = JSON.parse(JSON.stringify(fx.data)) as ReportData;
  bad.headMaps[1].stages[2].values.pop();
  assert.throws(() => checkReportData(bad, 'f.json'), /field 'headMaps\[1\]\.stages\[2\]\.values' must hold 12 numbers/);
  assert.equal(checkReportData(JSON.parse(JSON.stringify(fx.data)), 'ok').lineage.name, fx.data.lineage.name);
});
