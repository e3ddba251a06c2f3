// `plasticity report` as a process: --from-json renders saved data; an id is read from the store's report index
// without Temporal; exit codes 2 (bad input), 3 (unknown id on the dev server), 5 (Temporal unreachable).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { test } from 'node:test';
import { buildAndStoreReportWithData } from '../../report/publish';
import type { ReportData } from '../../report/data';
import { reportActivityInput, syntheticFixture } from './synthetic-lineage';

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

const fx = syntheticFixture();

test('--from-json renders saved report data into --out', async () => {
  const file = path.join(fx.lineage.root, 'saved.json');
  fs.writeFileSync(file, JSON.stringify(fx.data));
  const out = path.join(fx.lineage.root, 'out-json');
  const r = await plasticity(['report', '--from-json', file, '--out', out]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim(), path.join(out, 'report.html'));
  const html = fs.readFileSync(path.join(out, 'report.html'), 'utf8');
  assert.match(html, /^<!DOCTYPE html>/);
  assert.ok(html.includes(fx.lineage.workflowId));
  assert.deepEqual(JSON.parse(fs.readFileSync(path.join(out, 'report-data.json'), 'utf8')), fx.data);
});

test('bad input is exit 2 naming the problem', async () => {
  const bad = path.join(fx.lineage.root, 'bad.json');
  fs.writeFileSync(bad, JSON.stringify({ ...fx.data, version: 99 }));
  let r = await plasticity(['report', '--from-json', bad, '--out', path.join(fx.lineage.root, 'out-bad')]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /field 'version' must be 1/);
  r = await plasticity(['report', '--from-json', path.join(fx.lineage.root, 'missing.json')]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /missing\.json: cannot read it/);
  r = await plasticity(['report']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /missing the workflow id/);
});

test('an id with --store is read from the store report index, without Temporal', async () => {
  await buildAndStoreReportWithData(fx.lineage.store, reportActivityInput(fx.lineage));
  const out = path.join(fx.lineage.root, 'out-store');
  const r = await plasticity(['report', fx.lineage.workflowId, '--store', path.join(fx.lineage.root, 'store'), '--out', out], { TEMPORAL_ADDRESS: `127.0.0.1:${await closedPort()}` });
  assert.equal(r.code, 0, r.stderr);
  const saved = JSON.parse(fs.readFileSync(path.join(out, 'report-data.json'), 'utf8')) as ReportData;
  assert.equal(saved.lineage.id, fx.lineage.workflowId);
  assert.equal(saved.headMaps.length, fx.data.headMaps.length);
  assert.ok(fs.statSync(path.join(out, 'report.html')).size > 500_000);
});

test('Temporal unreachable and nothing stored: exit 5', async () => {
  const cwd = fs.mkdtempSync(path.join(fx.lineage.root, 'cwd-'));
  const r = await plasticity(['report', 'lineage-nowhere', '--out', path.join(cwd, 'out')], { TEMPORAL_ADDRESS: `127.0.0.1:${await closedPort()}` }, cwd);
  assert.equal(r.code, 5, r.stderr);
  assert.match(r.stderr, /cannot reach Temporal/);
});

test('an unknown workflow id on the dev server: exit 3', async () => {
  const address = process.env.PLASTICITY_TEST_TEMPORAL_ADDRESS;
  if (!address) throw new Error('PLASTICITY_TEST_TEMPORAL_ADDRESS is not set: run through the test harness (node dist/test/harness.js report)');
  const r = await plasticity(['report', 'lineage-does-not-exist-42', '--out', path.join(fx.lineage.root, 'out-unknown')], { TEMPORAL_ADDRESS: address });
  assert.equal(r.code, 3, r.stderr);
  assert.match(r.stderr, /no workflow with id lineage-does-not-exist-42/);
});
