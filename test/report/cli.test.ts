// `plasticity report` as a process: --from-json renders saved data; an id is read from the store's report index
// without Temporal; exit codes 2 (bad input), 3 (unknown id on the dev server), 5 (Temporal unreachable).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { buildAndStoreReportWithData } from '../../report/activity-entry';
import { collectReportData } from '../../report/collect';
import type { ReportData } from '../../report/data';
import { buildSyntheticLineage, SYNTHETIC_CONFIG, type SyntheticLineage } from './synthetic-lineage';

const MAIN = path.join(__dirname, '..', '..', 'cli', 'main.js');

function plasticity(args: string[], env: Record<string, string> = {}, cwd?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [MAIN, ...args], { env: { ...process.env, ...env }, cwd, timeout: 60_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

/** A loopback port with nothing listening (bound, then released). */
function closedPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer().once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

let lineage: SyntheticLineage;
let data: ReportData;

before(async () => {
  lineage = await buildSyntheticLineage();
  data = await collectReportData(lineage.store, { workflowId: lineage.workflowId, result: lineage.result, config: SYNTHETIC_CONFIG, codeVersion: '0.1.0+abc123' });
});
after(() => fs.rmSync(lineage.root, { recursive: true, force: true }));

test('--from-json renders saved report data into --out', async () => {
  const file = path.join(lineage.root, 'saved.json');
  fs.writeFileSync(file, JSON.stringify(data));
  const out = path.join(lineage.root, 'out-json');
  const r = await plasticity(['report', '--from-json', file, '--out', out]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim(), path.join(out, 'report.html'));
  const html = fs.readFileSync(path.join(out, 'report.html'), 'utf8');
  assert.match(html, /^<!DOCTYPE html>/);
  assert.ok(html.includes(lineage.workflowId));
  assert.deepEqual(JSON.parse(fs.readFileSync(path.join(out, 'report-data.json'), 'utf8')), data);
});

test('bad input is exit 2 naming the problem', async () => {
  const bad = path.join(lineage.root, 'bad.json');
  fs.writeFileSync(bad, JSON.stringify({ ...data, version: 99 }));
  let r = await plasticity(['report', '--from-json', bad, '--out', path.join(lineage.root, 'out-bad')]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /field 'version' must be 1/);
  r = await plasticity(['report', '--from-json', path.join(lineage.root, 'missing.json')]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /missing\.json: cannot read it/);
  r = await plasticity(['report']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /missing the workflow id/);
});

test('an id with --store is read from the store report index, without Temporal', async () => {
  await buildAndStoreReportWithData(lineage.store, {
    workflowId: lineage.workflowId,
    name: lineage.result.name,
    configHash: lineage.result.configHash,
    codeVersion: '0.1.0+abc123',
    config: SYNTHETIC_CONFIG,
    stages: lineage.result.stages,
    statuses: lineage.result.statuses,
    startedAt: lineage.result.startedAt,
  });
  const out = path.join(lineage.root, 'out-store');
  const r = await plasticity(['report', lineage.workflowId, '--store', path.join(lineage.root, 'store'), '--out', out], { TEMPORAL_ADDRESS: `127.0.0.1:${await closedPort()}` });
  assert.equal(r.code, 0, r.stderr);
  const saved = JSON.parse(fs.readFileSync(path.join(out, 'report-data.json'), 'utf8')) as ReportData;
  assert.equal(saved.lineage.id, lineage.workflowId);
  assert.equal(saved.headMaps.length, data.headMaps.length);
  assert.ok(fs.statSync(path.join(out, 'report.html')).size > 500_000);
});

test('Temporal unreachable and nothing stored: exit 5', async () => {
  const cwd = fs.mkdtempSync(path.join(lineage.root, 'cwd-'));
  const r = await plasticity(['report', 'lineage-nowhere', '--out', path.join(cwd, 'out')], { TEMPORAL_ADDRESS: `127.0.0.1:${await closedPort()}` }, cwd);
  assert.equal(r.code, 5, r.stderr);
  assert.match(r.stderr, /cannot reach Temporal/);
});

test('an unknown workflow id on the dev server: exit 3', async () => {
  const address = process.env.PLASTICITY_TEST_TEMPORAL_ADDRESS;
  if (!address) throw new Error('PLASTICITY_TEST_TEMPORAL_ADDRESS is not set: run through the test harness (node dist/test/harness.js report)');
  const r = await plasticity(['report', 'lineage-does-not-exist-42', '--out', path.join(lineage.root, 'out-unknown')], { TEMPORAL_ADDRESS: address });
  assert.equal(r.code, 3, r.stderr);
  assert.match(r.stderr, /no workflow with id lineage-does-not-exist-42/);
});
