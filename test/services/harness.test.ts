// The harness starts only the services the chosen tests use.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { servicesNeeded } from '../harness';

const dist = path.join(__dirname, '..');
const need = (...files: string[]) => servicesNeeded(files.map((f) => path.join(dist, f)));

test('a pure-library test needs no services', () => {
  assert.deepEqual(need('ioi/rng.test.js'), { temporal: false, s3: false });
  assert.deepEqual(need('train/optimizer.test.js'), { temporal: false, s3: false });
});

test('a workflow test needs Temporal, an S3 store test needs S3, and together both', () => {
  assert.equal(need('workflows/lineage.test.js').temporal, true);
  assert.deepEqual(need('store/s3-store.test.js'), { temporal: false, s3: true });
  assert.deepEqual(need('ioi/rng.test.js', 'workflows/lineage.test.js', 'store/s3-store.test.js'), { temporal: true, s3: true });
});
