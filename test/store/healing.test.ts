// A store that heals and moves (issue 10, items 2 and 4), on the tiny lineage run without Temporal: a flipped byte,
// a truncation or a deletion of a blob a cached stage references is found on reuse, the blob is quarantined, the
// stage recomputed and the lineage ends with the same results; a store folder moved elsewhere is reused whole.
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runLineageLocally } from '../../lineage/local';
import { readDescriptor } from '../../checkpoint/store';
import { blobKey } from '../../store/artifact-store';
import { openStore } from '../../store/open';
import { verifyStore } from '../../store/verify';
import type { LineageResult } from '../../contract/lineage';
import { randomBytes } from 'node:crypto';
import { ContentStore } from '../../store/artifact-store';
import { s3Settings, testStoreOpener, tinyConfig, tmpDir } from '../support/helpers';

const CODE = 'test-healing';
const run = (store: string) => runLineageLocally(tinyConfig(store), { codeVersion: CODE, openStore: testStoreOpener() });

/** What must not change between a pristine run and a healed or moved one. */
function results(r: LineageResult) {
  return {
    compare: r.compare.sha256,
    headline: r.headline,
    weights: Object.fromEntries(Object.entries(r.stages).map(([name, s]) => [name, s.weights ?? null])),
    // checkpoint descriptors name a plasticity.json with its write time: train stages compare by weights instead
    artifacts: Object.fromEntries(Object.entries(r.stages).filter(([, s]) => !s.weights).map(([name, s]) => [name, s.artifacts.map((a) => a.sha256)])),
  };
}

describe('a store that heals and can be moved', () => {
  let root: string;
  let storeDir: string;
  let pristine: LineageResult;

  before(async () => {
    root = tmpDir('healing');
    storeDir = path.join(root, 'store');
    pristine = await run(storeDir);
    assert.ok(Object.values(pristine.statuses).every((s) => s === 'done'), JSON.stringify(pristine.statuses));
  });
  after(() => fs.rm(root, { recursive: true, force: true }));

  /** The file of the finetune output's model.safetensors blob (what the later stages all descend from). */
  async function finetuneWeightsFile(): Promise<string> {
    const store = openStore(storeDir);
    const descriptor = await readDescriptor(store, pristine.stages.finetune.outputs.checkpoint);
    return path.join(storeDir, blobKey(descriptor.files['model.safetensors'].sha256));
  }

  const faults: [string, (file: string) => Promise<void>][] = [
    ['a flipped byte', async (file) => {
      const fh = await fs.open(file, 'r+');
      try {
        const b = Buffer.alloc(1);
        await fh.read(b, 0, 1, 1000);
        b[0] ^= 0x01;
        await fh.write(b, 0, 1, 1000);
      } finally {
        await fh.close();
      }
    }],
    ['a truncated blob', (file) => fs.truncate(file, 4096)],
    ['a deleted blob', (file) => fs.rm(file)],
  ];
  for (const [fault, inject] of faults) {
    it(`${fault}: the stage is recomputed, the blob healed, the results equal a pristine run's`, async () => {
      const file = await finetuneWeightsFile();
      await inject(file);
      const healed = await run(storeDir);
      assert.equal(healed.statuses.finetune, 'done', `finetune is recomputed, not reused: ${JSON.stringify(healed.statuses)}`);
      assert.equal(healed.statuses.base, 'cached');
      assert.deepEqual(results(healed), results(pristine));
      const report = await verifyStore(openStore(storeDir));
      assert.deepEqual([report.problems, report.badManifests], [[], []], 'the store is whole again');
      if (fault !== 'a deleted blob') {
        const quarantined = await fs.readdir(path.join(storeDir, 'quarantine', 'blobs', path.basename(path.dirname(file))));
        assert.ok(quarantined.some((n) => n.startsWith(path.basename(file))), `the bad blob is kept aside: ${quarantined.join(', ')}`);
      }
    });
  }

  it('a moved store folder is reused whole: every stage cached, results equal', async () => {
    const moved = path.join(root, 'elsewhere', 'store-moved');
    await fs.mkdir(path.dirname(moved), { recursive: true });
    await fs.rename(storeDir, moved);
    const again = await run(moved);
    assert.ok(Object.values(again.statuses).every((s) => s === 'cached'), JSON.stringify(again.statuses));
    assert.deepEqual(results(again), results(pristine));
    const text = await fs.readFile(path.join(moved, 'stages', `${again.stages.finetune.key}`, 'result.json'), 'utf8');
    assert.ok(!text.includes('file://'), 'stage results hold no absolute locations');
    storeDir = moved;
  });

  it('synced to S3, the store is reused whole there; a flipped byte in S3 heals the same way', async () => {
    const url = `s3://${s3Settings().bucket}/healing-${randomBytes(4).toString('hex')}`;
    const s3 = testStoreOpener()(url) as ContentStore;
    const local = openStore(storeDir);
    for (const key of await local.list('')) {
      const stream = (await (local as ContentStore).backend.read(key))!;
      const chunks: Buffer[] = [];
      for await (const c of stream) chunks.push(c as Buffer);
      await s3.backend.putBytes(key, Buffer.concat(chunks));
    }
    const there = await run(url);
    assert.ok(Object.values(there.statuses).every((st) => st === 'cached'), JSON.stringify(there.statuses));
    assert.deepEqual(results(there), results(pristine));

    const descriptor = await readDescriptor(s3, pristine.stages.finetune.outputs.checkpoint);
    const key = blobKey(descriptor.files['model.safetensors'].sha256);
    const bytes = await s3.getBlob(descriptor.files['model.safetensors']);
    bytes[1000] ^= 0x01;
    await s3.backend.putBytes(key, bytes);
    const quarantinedBefore = (await s3.list(`quarantine/${key}`)).length; // the local faults' ones came along
    const healed = await run(url);
    assert.equal(healed.statuses.finetune, 'done', JSON.stringify(healed.statuses));
    assert.deepEqual(results(healed), results(pristine));
    assert.deepEqual(await s3.verifyBlob(descriptor.files['model.safetensors']), { ok: true });
    assert.equal((await s3.list(`quarantine/${key}`)).length, quarantinedBefore + 1, 'the bad object is kept aside in S3');
  });
});
