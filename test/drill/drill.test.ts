// A reduced `npm run drill`: its own Temporal dev server, SeaweedFS and worker processes; an unbroken reference
// lineage on the tiny config, then 2 worker SIGKILLs at seeded random moments. The killed lineage must end with the
// reference's weights and compare artifact and a store whose every blob and manifest verifies.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatReport, runDrills, seededRandom } from '../../drill/drill';

test('the seeded generator is reproducible', () => {
  const a = seededRandom(7);
  const b = seededRandom(7);
  const xs = Array.from({ length: 5 }, () => a());
  assert.deepEqual(xs, Array.from({ length: 5 }, () => b()));
  assert.ok(xs.every((x) => x >= 0 && x < 1) && new Set(xs).size === 5);
});

test('drill: 2 worker SIGKILLs on the tiny lineage lose nothing', async () => {
  const report = await runDrills({ kills: 2, seed: 3, backend: 'cpu', drills: ['kill'], lineageTimeoutMs: 300_000, log: () => {} });
  const table = formatReport(report);
  assert.equal(report.rows.length, 1, table);
  const [kill] = report.rows;
  assert.equal(kill.injected, 2, table);
  assert.ok(kill.survived, table);
  assert.ok(kill.notes.some((n) => /store audit: \d+ blobs, \d+ manifests, 0 problem/.test(n)), table);
  assert.ok(report.referenceMs > 0);
});
