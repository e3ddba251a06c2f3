// collectReportData on a synthetic lineage in a local store: the stage list, loss curves from the checkpoints,
// head maps of every method per traced model, adjacent differences, localisation, restoration, CMAP and circuit
// numbers come through; a missing blob becomes a warning; a running lineage gives a partial report.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildAndStoreReportWithData } from '../../report/publish';
import { collectReportData, lineageEdges } from '../../report/collect';
import { checkReportData } from '../../report/data';
import { readReportIndex } from '../../report/store-index';
import { ContentStore, LocalBackend } from '../../store';
import { CODE_VERSION, METHODS, N_HEAD, N_LAYER, reportActivityInput, runningProgress, SYNTHETIC_CONFIG, syntheticFixture, TRACED } from './synthetic-lineage';

const fx = syntheticFixture();

test('stages, statuses, durations and artifacts come from the result', () => {
  assert.deepEqual(fx.data.stages.map((s) => s.name), Object.keys(fx.lineage.result.stages));
  assert.equal(fx.data.stages.find((s) => s.name === 'base')!.status, 'cached');
  assert.equal(fx.data.stages.find((s) => s.name === 'finetune')!.status, 'done');
  const ft = fx.data.stages.find((s) => s.name === 'finetune')!;
  assert.equal(ft.durationSeconds, 130);
  assert.deepEqual(ft.artifacts.map((a) => a.name).sort(), ['checkpoint', 'epoch-1', 'epoch-2', 'epoch-5']);
  assert.equal(ft.artifacts.find((a) => a.name === 'epoch-5')!.sha256, ft.artifacts.find((a) => a.name === 'checkpoint')!.sha256);
  assert.equal(fx.data.lineage.status, 'completed');
  assert.equal(fx.data.lineage.codeVersion, CODE_VERSION);
  assert.equal(fx.data.lineage.id, fx.lineage.workflowId);
  assert.deepEqual(fx.data.config, SYNTHETIC_CONFIG);
  checkReportData(fx.data, 'collected data');
});

test('edges follow the data flow of the lineage', () => {
  const has = (from: string, to: string) => fx.data.edges.some((e) => e.from === from && e.to === to);
  assert.ok(has('validate', 'base') && has('base', 'finetune') && has('finetune', 'corrupt') && has('corrupt', 'retrain'));
  assert.ok(has('base', 'trace-base') && has('finetune', 'trace-finetune-e2') && has('retrain', 'trace-retrain'));
  for (const t of TRACED) assert.ok(has(`trace-${t}`, 'compare'), `trace-${t} → compare`);
  assert.equal(fx.data.edges.filter((e) => e.to === 'trace-corrupt').length, 1);
  // corrupt from the base model when the config says so
  assert.ok(lineageEdges(['base', 'finetune', 'corrupt'], 'base').some((e) => e.from === 'base' && e.to === 'corrupt'));
});

test('loss curves: every train stage, full history, epoch marks at their steps', () => {
  assert.deepEqual(fx.data.lossCurves.map((c) => c.stage), ['base', 'finetune', 'corrupt', 'retrain']);
  for (const c of fx.data.lossCurves) assert.equal(c.points.length, fx.lineage.loss[c.stage].points, c.stage);
  const ft = fx.data.lossCurves.find((c) => c.stage === 'finetune')!;
  assert.deepEqual(Object.fromEntries(ft.marks.map((m) => [m.label, m.step])), fx.lineage.loss.finetune.marks);
  assert.ok(ft.points[0].loss > ft.points[ft.points.length - 1].loss);
});

test('head maps of every method per traced model, and adjacent differences equal to − from', () => {
  assert.deepEqual(fx.data.model && [fx.data.model.nLayer, fx.data.model.nHead], [N_LAYER, N_HEAD]);
  assert.deepEqual(fx.data.methods.sort(), [...METHODS].sort());
  for (const mm of fx.data.headMaps) {
    assert.deepEqual(mm.stages.map((s) => s.label), TRACED);
    const trace = fx.lineage.traces[2];
    assert.deepEqual(mm.stages[2].values, trace.headScores[mm.method].values);
  }
  assert.equal(fx.data.diffs.length, METHODS.length * (TRACED.length - 1));
  const d = fx.data.diffs.find((x) => x.method === 'knockout/head' && x.from === 'finetune-e5' && x.to === 'corrupt')!;
  const from = fx.lineage.traces[3].headScores['knockout/head'].values as number[];
  const to = fx.lineage.traces[4].headScores['knockout/head'].values as number[];
  d.values.forEach((v, i) => assert.ok(Math.abs((v as number) - (to[i] - from[i])) < 1e-12));
  const stats = fx.lineage.comparison.adjacent.find((x) => x.method === 'knockout/head' && x.to === 'corrupt')!;
  assert.equal(d.pearson, stats.pearson);
});

test('localisation, restoration, CMAP and circuit numbers come through with the heads named', () => {
  const loc = fx.data.localisation!;
  assert.equal(loc.from, 'finetune-e5');
  assert.equal(loc.to, 'corrupt');
  assert.equal(loc.byMethod[loc.primaryMethod].changed[0].head, '2.1'); // the name mover flipped sign
  const r = fx.data.restoration!;
  assert.ok(r.behavioural.fraction! > 0.7 && r.behavioural.fraction! < 1);
  assert.equal(r.mechanistic[r.primaryMethod].heads.length, N_LAYER * N_HEAD);
  assert.equal(fx.data.cmap.length, TRACED.length - 1);
  assert.deepEqual(fx.data.cmap[0].sweeps.map((s) => s.key), ['z@all', 'pattern@END']);
  const e5 = fx.data.traces.find((t) => t.label === 'finetune-e5')!;
  assert.equal(e5.stage, 'trace-finetune-e5');
  assert.deepEqual(e5.circuit!.heads, ['2.1', '2.3', '1.2', '0.3']);
  assert.ok(e5.circuit!.faithfulness.ratio! > 0.8);
  assert.equal(e5.circuit!.minimality!.total, 4);
  assert.equal(fx.data.warnings.length, 0, fx.data.warnings.join('\n'));
});

test('a missing trace blob becomes a warning, not a failure', async () => {
  const ref = fx.lineage.result.stages['trace-corrupt'].outputs.trace;
  const bare = new ContentStore(new LocalBackend(`${fx.lineage.root}/empty-store`));
  const partial = await collectReportData(bare, { result: fx.lineage.result, config: SYNTHETIC_CONFIG });
  assert.ok(partial.warnings.some((w) => w.includes('trace-corrupt') && w.includes(ref.uri)), partial.warnings.join('\n'));
  assert.ok(partial.warnings.some((w) => w.startsWith('compare:')));
  assert.equal(partial.headMaps.length, 0);
  assert.equal(partial.stages.length, fx.data.stages.length);
});

test('a running lineage: pending and running stages, no comparison yet, maps from the trace stages', async () => {
  const { progress, stages } = runningProgress(fx.lineage);
  const live = await collectReportData(fx.lineage.store, { workflowId: fx.lineage.workflowId, progress, stages, config: SYNTHETIC_CONFIG });
  assert.equal(live.lineage.status, 'running');
  const retrain = live.stages.find((s) => s.name === 'retrain')!;
  assert.equal(retrain.status, 'running');
  assert.equal(retrain.step, 40);
  assert.equal(live.stages.find((s) => s.name === 'compare')!.status, 'pending');
  assert.deepEqual(live.headMaps[0].stages.map((s) => s.label), ['base', 'finetune-e1', 'finetune-e2', 'finetune-e5', 'corrupt']);
  assert.equal(live.restoration, undefined);
  assert.equal(live.localisation, undefined);
  assert.equal(live.cmap.length, 4);
});

test('buildAndStoreReportWithData stores report.html, the data and an index readable by workflow id', async () => {
  const stored = await buildAndStoreReportWithData(fx.lineage.store, reportActivityInput(fx.lineage));
  assert.equal(stored.report.kind, 'report');
  const html = (await fx.lineage.store.getBlob(stored.report)).toString('utf8');
  assert.match(html, /^<!DOCTYPE html>/);
  assert.ok(html.includes(fx.lineage.workflowId));
  const index = await readReportIndex(fx.lineage.store, fx.lineage.workflowId);
  assert.deepEqual(index?.report, stored.report);
  const saved = checkReportData(JSON.parse((await fx.lineage.store.getBlob(index!.data)).toString('utf8')), 'stored data');
  assert.equal(saved.headMaps.length, METHODS.length);
  assert.ok(saved.restoration, 'compare artifact found through stages.compare');
  assert.equal(await readReportIndex(fx.lineage.store, 'no-such-run'), undefined);
});

test('the report stage writing the report shows as done in it', async () => {
  const { progress } = runningProgress(fx.lineage);
  const order = Object.keys(fx.lineage.result.stages);
  const atReport = {
    ...progress,
    current: 'report',
    stages: [
      ...order.map((n) => ({ stage: n, kind: fx.lineage.result.stages[n].kind, status: fx.lineage.result.statuses[n], startedAt: fx.lineage.result.stages[n].startedAt, finishedAt: fx.lineage.result.stages[n].finishedAt })),
      { stage: 'report', kind: 'report' as const, status: 'running' as const, startedAt: fx.lineage.result.finishedAt },
    ],
  };
  const stored = await buildAndStoreReportWithData(fx.lineage.store, { ...reportActivityInput(fx.lineage), progress: atReport });
  const saved = checkReportData(JSON.parse((await fx.lineage.store.getBlob(stored.data)).toString('utf8')), 'stored data');
  const report = saved.stages.find((s) => s.name === 'report')!;
  assert.equal(report.status, 'done');
  assert.ok(saved.edges.some((e) => e.from === 'compare' && e.to === 'report'));
  assert.equal(saved.stages.find((s) => s.name === 'retrain')!.status, 'done');
});
