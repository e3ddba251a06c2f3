// The sweep report in headless Chromium (test/report/chromium.ts): two settings × three seeds aggregated from the
// synthetic lineage's report data, perturbed per seed. It renders without console or page errors or network
// requests; every chart has a drawn canvas and data; per setting and head map there are the mean, std and stability
// heatmaps with one cell per head, the stability band shows the head one seed flips; the loss charts draw the ±1 std
// band; the headline table gives mean ± std. Screenshot in test-output/report/.
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { test } from 'node:test';
import type { ReportData } from '../../report/data';
import { aggregateSweep, type SweepPointData } from '../../report/sweep-aggregate';
import { renderSweepReport } from '../../report/sweep-render';
import { chartStates, chromiumPages, OUT } from '../report/chromium';
import { N_HEAD, N_LAYER, syntheticFixture } from '../report/synthetic-lineage';

/* eslint-disable @typescript-eslint/no-explicit-any */
declare const window: any;
declare const document: any;

const fx = syntheticFixture();
const { open } = chromiumPages();

/** Seed s scales every head value by 1 + s/10 and the losses by 1 + s/20; seed 2 also flips head 0.0's sign. */
function perturbed(data: ReportData, seed: number): ReportData {
  const d = structuredClone(data);
  for (const m of d.headMaps) {
    for (const s of m.stages) {
      s.values = s.values.map((v, i) => (v === null ? null : v * (1 + seed / 10) * (seed === 2 && i === 0 ? -1 : 1)));
    }
  }
  for (const c of d.lossCurves) c.points = c.points.map((p) => ({ ...p, loss: p.loss * (1 + seed / 20) }));
  return d;
}

test('the sweep report renders its charts, spreads and stability bands without errors', async () => {
  const points: SweepPointData[] = [];
  const reports = new Map<number, ReportData>();
  for (const rate of ['0.5', '1']) {
    for (const seed of [0, 1, 2]) {
      const index = points.length;
      points.push({ index, label: `seed=${seed},corrupt.rate=${rate}`, overrides: [`seed=${seed}`, `corrupt.rate=${rate}`], status: 'completed', workflowId: `sweep-x-p${index}`, headline: { ld_clean: 10 + seed, ld_corrupted: -5 * Number(rate) - seed } });
      reports.set(index, perturbed(fx.data, seed));
    }
  }
  const data = aggregateSweep('synthetic', points, reports, 'sweep-x');
  assert.equal(data.settings.length, 2);
  const mapsPerSetting = data.settings[0].headMaps.length;
  assert.ok(mapsPerSetting > 0, 'the synthetic lineage has head maps');

  const { page, problems } = await open(renderSweepReport(data), 'sweep-report');
  try {
    const charts = await chartStates(page);
    for (const c of charts) {
      assert.ok(c.instance, `${c.id} (${c.kind}): no ECharts instance`);
      assert.ok(c.canvas && c.canvas.w > 0 && c.canvas.h > 0, `${c.id} (${c.kind}): no drawn canvas (${JSON.stringify(c.canvas)})`);
      assert.ok(c.points > 0, `${c.id} (${c.kind}): no data`);
    }
    const heatmaps = charts.filter((c) => c.kind === 'heatmap');
    assert.equal(heatmaps.length, 2 * 3 * mapsPerSetting, 'mean, std and stability per setting and head map');
    for (const c of heatmaps) {
      assert.equal(c.points, N_LAYER * N_HEAD, `${c.id}: one cell per head`);
      assert.ok(c.colours >= 2, `${c.id}: only ${c.colours} colours drawn`);
    }
    for (const c of heatmaps.filter((x) => x.id.endsWith('-mean'))) assert.equal(c.filled, N_LAYER * N_HEAD, `${c.id}: every mean cell has a value`);

    // the stability band: head 0.0 agrees in 2 of 3 seeds, the other heads (with a non-zero mean) in all 3
    for (const [i, s] of data.settings.entries()) {
      for (const j of s.headMaps.keys()) {
        const cells: unknown[][] = await page.evaluate((id) => window.echarts.getInstanceByDom(document.getElementById(id)).getOption().series[0].data, `sweep-${i}-map-${j}-stab`);
        const at = (head: number, layer: number) => cells.find((p) => p[0] === head && p[1] === layer)![2];
        const mean = s.headMaps[j].mean;
        if (mean[0] !== null && mean[0] !== 0) assert.ok(Math.abs((at(0, 0) as number) - 2 / 3) < 1e-9, `setting ${i} map ${j}: head 0.0 stability ${at(0, 0)}`);
        for (let k = 1; k < N_LAYER * N_HEAD; k++) {
          if (mean[k] === null || mean[k] === 0) continue;
          assert.equal(at(k % N_HEAD, Math.floor(k / N_HEAD)), 1, `setting ${i} map ${j}: head ${Math.floor(k / N_HEAD)}.${k % N_HEAD} is stable`);
        }
      }
    }

    // the loss charts: one per train stage with several steps, each with its shaded ±1 std band
    const lines = charts.filter((c) => c.kind === 'line');
    assert.equal(lines.length, data.settings.reduce((n, s) => n + s.lossCurves.filter((c) => c.steps.length > 1).length, 0));
    assert.ok(lines.length > 0, 'loss charts');
    for (const c of lines) {
      const series: { name: string; areaStyle?: unknown }[] = await page.evaluate((id) => window.echarts.getInstanceByDom(document.getElementById(id)).getOption().series, c.id);
      assert.ok(series.some((x) => x.name === '±1 std' && x.areaStyle), `${c.id}: no shaded std band`);
    }

    // the headline: mean ± std over the three seeds (ld_clean 10, 11, 12 → 11 ± 1)
    const headline = (await page.locator('#setting-0 table').first().innerText()) ?? '';
    assert.match(headline, /ld_clean\s+11(\.0+)? ± 1(\.0+)?/);
    assert.match(headline, /n=3/);
    await page.screenshot({ path: path.join(OUT, 'sweep-report.png'), fullPage: true });
    assert.deepEqual(problems, []);
  } finally {
    await page.close();
  }
});
