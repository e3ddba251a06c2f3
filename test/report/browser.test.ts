// The rendered report in headless Chromium (Debian's /usr/bin/chromium driven by playwright-core): no console
// error, no page error, no network request; every chart has a drawn canvas and data; each heatmap has one cell per
// head with colour in it and a tooltip naming the head; screenshots go to test-output/report/.
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { test } from 'node:test';
import { collectReportData } from '../../report/collect';
import type { ReportBranch, ReportData } from '../../report/data';
import { renderReport } from '../../report/render';
import { formatNumber } from '../../report/format';
import { chartStates, chromiumPages, OUT } from './chromium';
import { N_HEAD, N_LAYER, runningProgress, SYNTHETIC_CONFIG, syntheticFixture } from './synthetic-lineage';

// The page functions below run in the browser; the project compiles without DOM types, so these stand in for them.
/* eslint-disable @typescript-eslint/no-explicit-any */
declare const window: any;
declare const document: any;

const fx = syntheticFixture({ uiUrl: 'http://localhost:8233/namespaces/default/workflows/x' });
const branched = syntheticFixture({}, { branches: true });
const { open } = chromiumPages();

/** Heatmaps the data calls for, counted from the data itself. */
function expectedHeatmaps(d: ReportData): number {
  const perMethod = d.headMaps.reduce((n, m) => n + m.stages.length, 0) + d.diffs.length;
  const localisation = d.localisation ? Object.keys(d.localisation.byMethod).length : 0;
  const cmap = d.cmap.reduce((n, p) => n + p.sweeps.length, 0);
  return perMethod + localisation + cmap;
}

test('the full lineage report renders every chart without errors', async () => {
  const data = fx.data;
  const { page, problems } = await open(renderReport(data), 'report-full');
  try {
    const charts = await chartStates(page);
    const heatmaps = charts.filter((c) => c.kind === 'heatmap');
    assert.equal(heatmaps.length, expectedHeatmaps(data));
    assert.equal(charts.filter((c) => c.kind === 'restoration').length, Object.keys(data.restoration!.mechanistic).length);
    for (const c of charts) {
      assert.ok(c.instance, `${c.id} (${c.kind}): no ECharts instance`);
      assert.ok(c.canvas && c.canvas.w > 0 && c.canvas.h > 0, `${c.id} (${c.kind}): no drawn canvas (${JSON.stringify(c.canvas)})`);
      assert.ok(c.points > 0, `${c.id} (${c.kind}): no data`);
    }
    for (const c of [...heatmaps, ...charts.filter((x) => x.kind === 'restoration')]) {
      assert.equal(c.points, N_LAYER * N_HEAD, `${c.id}: one cell per head`);
      assert.equal(c.filled, N_LAYER * N_HEAD, `${c.id}: every cell has a value`);
      assert.ok(c.colours >= 4, `${c.id}: only ${c.colours} colours drawn`);
    }
    const graph = charts.find((c) => c.kind === 'graph')!;
    assert.equal(graph.points, data.stages.length);
    assert.equal(charts.filter((c) => c.kind === 'line').length, data.lossCurves.length + 1); // + the fine-tune duration curve

    // A heatmap tooltip names the head and its value.
    const first = heatmaps[0].id;
    const tip = await page.evaluate(({ id, index }) => {
      const el = document.getElementById(id);
      window.echarts.getInstanceByDom(el).dispatchAction({ type: 'showTip', seriesIndex: 0, dataIndex: index });
      return String(el.innerText);
    }, { id: first, index: 2 * N_HEAD + 1 });
    assert.match(tip, /head 2\.1/);
    assert.match(tip, /logit_diff/);
    await page.evaluate((id) => window.echarts.getInstanceByDom(document.getElementById(id)).dispatchAction({ type: 'hideTip' }), first);

    // Headline text and sections are there.
    const headline = (await page.locator('#headline').textContent()) ?? '';
    assert.match(headline, /Corruption localisation/);
    assert.match(headline, /Restoration/);
    assert.match(headline, /finetune-e5/);

    await page.screenshot({ path: path.join(OUT, 'report-top.png') });
    await page.addStyleTag({ content: 'nav{position:static !important}' }); // the sticky bar would cover element shots
    await page.screenshot({ path: path.join(OUT, 'report-full.png'), fullPage: true });
    await page.locator('#heads').screenshot({ path: path.join(OUT, 'report-heads.png') });
    await page.locator('#restoration').screenshot({ path: path.join(OUT, 'report-restoration.png') });
    assert.deepEqual(problems, []);
  } finally {
    await page.close();
  }
});

test('a running lineage renders its partial report without errors', async () => {
  const { progress, stages } = runningProgress(fx.lineage);
  const data = await collectReportData(fx.lineage.store, { workflowId: fx.lineage.workflowId, progress, stages, config: SYNTHETIC_CONFIG });
  const { page, problems } = await open(renderReport(data), 'report-running');
  try {
    const charts = await chartStates(page);
    assert.equal(charts.filter((c) => c.kind === 'heatmap').length, expectedHeatmaps(data));
    for (const c of charts) assert.ok(c.instance && c.canvas && c.canvas.w > 0 && c.points > 0, `${c.id} (${c.kind}) did not render`);
    assert.equal(await page.locator('#restoration').count(), 0);
    await page.screenshot({ path: path.join(OUT, 'report-running.png'), fullPage: false });
    assert.deepEqual(problems, []);
  } finally {
    await page.close();
  }
});

test('a two-branch lineage shows the branches side by side with intervals and the heads each poison attacks', async () => {
  const data = branched.data;
  assert.deepEqual(data.branches?.map((b) => b.name), ['subject', 'name-moving']);
  const { page, problems } = await open(renderReport(data), 'report-branches');
  try {
    const charts = await chartStates(page);
    assert.equal(charts.filter((c) => c.kind === 'heatmap').length, expectedHeatmaps(data));
    for (const c of charts) assert.ok(c.instance && c.canvas && c.canvas.w > 0 && c.points > 0, `${c.id} (${c.kind}) did not render`);
    assert.equal(await page.locator('nav a[href="#branches"]').count(), 1);
    const rows: { branch: string | null; cells: string[] }[] = await page.locator('#branches table.branches tbody tr').evaluateAll((trs: any[]) =>
      trs.map((tr) => ({ branch: tr.getAttribute('data-branch'), cells: [...tr.querySelectorAll('td')].map((td: any) => String(td.innerText)) })),
    );
    assert.deepEqual(rows.map((r) => r.branch), ['subject', 'name-moving']);
    for (const [i, r] of rows.entries()) {
      const b: ReportBranch = data.branches![i];
      assert.equal(r.cells[1], b.transform);
      // LD corrupted with its interval, and the behavioural restoration with its interval
      assert.ok(r.cells[4].startsWith(`${formatNumber(b.behavioural.ldCorrupted)} [`), `LD corrupted with its interval: ${r.cells[4]}`);
      assert.match(r.cells[4], /\[.+, .+\]$/);
      assert.match(r.cells[7], /%.*\[.+%, .+%\]$/);
      // localisation share, mechanistic correlation and faithfulness carry their intervals too
      assert.match(r.cells[6], /^[\d.]+ ?% \[[\d.]+ ?%, [\d.]+ ?%\]$/, `top-k share with its interval: ${r.cells[6]}`);
      assert.ok(r.cells[8].startsWith(`${formatNumber(b.pearson, 3)} [`), `Pearson with its interval: ${r.cells[8]}`);
      assert.match(r.cells[9], /%.*\[.+%, .+%\]$/, `faithfulness with its interval: ${r.cells[9]}`);
      for (const iv of [b.intervals!.topShare!['5'], b.intervals!.mechanistic!, b.intervals!.faithfulness!.retrained!]) assert.ok(iv.lo! < iv.hi!, `a real interval: ${JSON.stringify(iv)}`);
      assert.ok(b.intervals!.ldCorrupted.lo! < b.intervals!.ldCorrupted.hi!, 'a real interval');
    }
    assert.notEqual(rows[0].cells[4], rows[1].cells[4], 'the branches differ');
    // head-map differences: one row per head shown, one coloured cell per branch, sorted by spread
    const heads: { cells: { text: string; bg: string }[] }[] = await page.locator('#branches table.branch-heads tbody tr').evaluateAll((trs: any[]) =>
      trs.map((tr) => ({ cells: [...tr.querySelectorAll('td')].map((td: any) => ({ text: String(td.innerText), bg: String(td.style.background || td.style.backgroundColor) })) })),
    );
    assert.equal(heads.length, Math.min(12, N_LAYER * N_HEAD));
    for (const r of heads) {
      assert.equal(r.cells.length, 4, 'head, two branches, spread');
      assert.ok(r.cells[1].bg && r.cells[2].bg, 'branch cells are coloured');
    }
    const spreads = heads.map((r) => Number(r.cells[3].text));
    assert.deepEqual([...spreads].sort((a, b) => b - a), spreads, 'largest spread first');
    await page.addStyleTag({ content: 'nav{position:static !important}' });
    await page.locator('#branches').screenshot({ path: path.join(OUT, 'report-branches.png') });
    assert.deepEqual(problems, []);
  } finally {
    await page.close();
  }
});
