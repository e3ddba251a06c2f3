// Behaviour every ArtifactStore backend must have; run by local-store.test.ts and s3-store.test.ts.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import {
  ChecksumError,
  StoreError,
  blobKey,
  gc,
  verifyStore,
  type ArtifactStore,
} from '../../store';
import { applyRetention, latestCheckpoint, listCheckpoints, putCheckpointManifest } from '../../checkpoint/series';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { ArtifactRef } from '../../store/artifact-ref';

export interface ContractFixture {
  store: ArtifactStore;
  /** Overwrites a key's bytes behind the store's back (simulates disk corruption / a bad upload). */
  overwrite(key: string, bytes: Buffer): Promise<void>;
}

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

async function* chunked(data: Buffer, size: number, between?: () => Promise<void>): AsyncGenerator<Buffer> {
  for (let i = 0; i < data.length; i += size) {
    yield data.subarray(i, i + size);
    if (between) await between();
  }
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

export function storeContract(name: string, fixture: () => Promise<ContractFixture>): void {
  describe(`${name}: artifact store contract`, () => {
    it('round-trips a buffer blob with a content-addressed, verified ref', async () => {
      const { store } = await fixture();
      const data = randomBytes(100_000);
      const ref = await store.putBlob(data, 'checkpoint');
      assert.equal(ref.sha256, sha256(data));
      assert.equal(ref.bytes, data.length);
      assert.equal(ref.kind, 'checkpoint');
      assert.equal(ref.uri, blobKey(ref.sha256), 'refs are relative to the store root, so a store can be moved');
      assert.equal(store.resolve(ref), `${store.url}/${blobKey(ref.sha256)}`);
      assert.ok((await store.getBlob(ref)).equals(data));
      assert.equal(await store.hasBlob(ref), true);
      // Same content → same key, stored once.
      assert.deepEqual(await store.putBlob(Buffer.from(data), 'checkpoint'), ref);
      assert.deepEqual(await store.list('blobs/'), [blobKey(ref.sha256)]);
    });

    it('streams a blob in and out (same ref as the buffered form)', async () => {
      const { store } = await fixture();
      const data = randomBytes(3 * 1024 * 1024 + 17);
      const ref = await store.putBlob(chunked(data, 64 * 1024), 'trace');
      assert.equal(ref.sha256, sha256(data));
      assert.equal(ref.bytes, data.length);
      assert.ok((await readAll(await store.openBlob(ref))).equals(data));
      assert.deepEqual(await store.putBlob(data, 'trace'), ref);
      const empty = await store.putBlob(Readable.from([]), 'empty');
      assert.equal(empty.bytes, 0);
      assert.equal((await store.getBlob(empty)).length, 0);
    });

    it('stores JSON at named keys; lists, checks and deletes keys', async () => {
      const { store } = await fixture();
      await store.putJson('stages/b.json', { n: 2 });
      await store.putJson('stages/a.json', { n: 1, nested: { list: [1, 2] } });
      await store.putJson('runs/x/y.json', { n: 3 });
      assert.deepEqual(await store.getJson('stages/a.json'), { n: 1, nested: { list: [1, 2] } });
      assert.equal(await store.getJson('stages/missing.json'), undefined);
      assert.deepEqual(await store.list('stages/'), ['stages/a.json', 'stages/b.json']);
      assert.deepEqual(await store.list('st'), ['stages/a.json', 'stages/b.json']);
      assert.equal(await store.exists('runs/x/y.json'), true);
      await store.putJson('runs/x/y.json', { n: 4 }); // overwrite replaces whole
      assert.deepEqual(await store.getJson('runs/x/y.json'), { n: 4 });
      await store.delete('runs/x/y.json');
      assert.equal(await store.exists('runs/x/y.json'), false);
      await store.delete('runs/x/y.json'); // deleting twice is fine
      await assert.rejects(store.putJson('../escape.json', {}), /invalid key "\.\.\/escape\.json"/);
      await assert.rejects(store.putJson('blobs/ab/x.json', {}), /inside the blob area/);
    });

    it('detects a corrupted blob (same size, different bytes) and names its uri', async () => {
      const { store, overwrite } = await fixture();
      const data = randomBytes(50_000);
      const ref = await store.putBlob(data, 'checkpoint');
      const bad = Buffer.from(data);
      bad[12_345] ^= 0xff;
      await overwrite(blobKey(ref.sha256), bad);
      await assert.rejects(store.getBlob(ref), (err: unknown) => {
        assert.ok(err instanceof ChecksumError, `expected ChecksumError, got ${String(err)}`);
        assert.ok(err.message.includes(ref.uri), err.message);
        assert.match(err.message, /sha256 [0-9a-f]{64}, expected/);
        return true;
      });
      await assert.rejects(readAll(await store.openBlob(ref)), ChecksumError);
    });

    it('detects a truncated blob', async () => {
      const { store, overwrite } = await fixture();
      const data = randomBytes(50_000);
      const ref = await store.putBlob(data, 'checkpoint');
      await overwrite(blobKey(ref.sha256), data.subarray(0, 40_000));
      await assert.rejects(store.getBlob(ref), (err: unknown) => {
        assert.ok(err instanceof ChecksumError);
        assert.ok(err.message.includes(ref.uri), err.message);
        assert.match(err.message, /size 40000 bytes, expected 50000/);
        return true;
      });
      await assert.rejects(store.getBlob({ ...ref, uri: 's3://elsewhere/blob' }), /does not belong to this store/);
    });

    it('never shows a manifest before its blob, nor a blob before it is complete', async () => {
      const { store } = await fixture();
      const data = randomBytes(600_000);
      // While the blob is still streaming in, nothing is visible under blobs/.
      let sawDuringWrite: string[] | undefined;
      const ref = await store.putBlob(
        chunked(data, 100_000, async () => {
          sawDuringWrite ??= await store.list('blobs/');
        }),
        'checkpoint',
      );
      assert.deepEqual(sawDuringWrite, []);
      // A manifest that references a blob not in the store is refused, and stays invisible.
      const other = randomBytes(1000);
      const missing: ArtifactRef = { uri: `${store.url}/${blobKey(sha256(other))}`, sha256: sha256(other), bytes: 1000, kind: 'checkpoint' };
      const series = 'runs/lin/finetune/checkpoints';
      await assert.rejects(
        putCheckpointManifest(store, series, 7, { weights: missing }),
        (err: unknown) => err instanceof StoreError && /references blob .* which is not in the store/.test(err.message),
      );
      assert.equal(await store.exists(`${series}/step-000007.json`), false);
      // With the blob written first, the manifest appears and everything it points to reads back.
      const key = await putCheckpointManifest(store, series, 7, { weights: ref });
      assert.equal(key, `${series}/step-000007.json`);
      const latest = await latestCheckpoint<{ weights: ArtifactRef }>(store, series);
      assert.ok((await store.getBlob(latest!.manifest.weights)).equals(data));
    });

    it('finds the latest checkpoint of a series by numeric step', async () => {
      const { store } = await fixture();
      const series = 'runs/lin/poison/checkpoints';
      assert.equal(await latestCheckpoint(store, series), undefined);
      for (const step of [120, 5, 1_000_000, 40]) {
        const ref = await store.putBlob(Buffer.from(`weights at ${step}`), 'checkpoint');
        await putCheckpointManifest(store, series, step, { weights: ref, loss: step / 10 });
      }
      await putCheckpointManifest(store, 'runs/lin/poison/checkpoints-other', 9_999_999, {});
      assert.deepEqual((await listCheckpoints(store, series)).map((c) => c.step), [5, 40, 120, 1_000_000]);
      const latest = await latestCheckpoint<{ weights: ArtifactRef; loss: number }>(store, series);
      assert.equal(latest?.step, 1_000_000);
      assert.equal(latest?.manifest.step, 1_000_000);
      assert.equal(latest?.manifest.loss, 100_000);
      assert.equal((await store.getBlob(latest!.manifest.weights)).toString(), 'weights at 1000000');
    });

    it('retention keeps the last K plus finals; gc then removes only unreferenced blobs', async () => {
      const { store } = await fixture();
      const series = 'runs/lin/retrain/checkpoints';
      const refs = new Map<number, ArtifactRef>();
      for (const step of [1, 2, 3, 4, 5, 6]) {
        refs.set(step, await store.putBlob(Buffer.from(`ckpt ${step}`), 'checkpoint'));
        await putCheckpointManifest(store, series, step, { weights: refs.get(step)!, final: step === 2 });
      }
      const shared = await store.putBlob(Buffer.from('tokenizer, shared by all'), 'report');
      await store.putJson('stages/s1.json', { artifacts: [shared] });

      const { kept, deleted } = await applyRetention(store, series, 2);
      assert.deepEqual({ kept, deleted }, { kept: [2, 5, 6], deleted: [1, 3, 4] });
      assert.deepEqual((await listCheckpoints(store, series)).map((c) => c.step), [2, 5, 6]);
      assert.equal((await latestCheckpoint(store, series))?.step, 6);
      await assert.rejects(applyRetention(store, series, 0), /keepLast must be an integer >= 1/);

      // Fresh blobs are protected by the default grace period even when unreferenced.
      assert.deepEqual((await gc(store)).deleted, []);
      const result = await gc(store, { minAgeMs: 0 });
      assert.deepEqual(result.deleted.sort(), [1, 3, 4].map((s) => blobKey(refs.get(s)!.sha256)).sort());
      assert.equal(result.referenced, 4);
      for (const s of [2, 5, 6]) assert.equal((await store.getBlob(refs.get(s)!)).toString(), `ckpt ${s}`);
      assert.equal(await store.hasBlob(shared), true);
      assert.equal(await store.hasBlob(refs.get(1)!), false);
      await assert.rejects(store.getBlob(refs.get(1)!), /not found/);
    });

    it('putBlob heals a blob whose stored bytes are wrong (same size), for bytes, streams and files', async () => {
      const { store, overwrite } = await fixture();
      const data = randomBytes(70_000);
      const bad = Buffer.from(data);
      bad[100] ^= 0x01;
      const file = path.join(await fs.mkdtemp(path.join(os.tmpdir(), 'plasticity-heal-')), 'blob');
      await fs.writeFile(file, data);
      const writers: [string, () => Promise<ArtifactRef>][] = [
        ['bytes', () => store.putBlob(data, 'checkpoint')],
        ['stream', () => store.putBlob(chunked(data, 10_000), 'checkpoint')],
        ['file', () => store.putBlobFile(file, 'checkpoint-file')],
        // A linked work file shares the blob's inode: the caller hands over a fresh file each time and removes it.
        ['linked file', async () => {
          const own = `${file}.own`;
          await fs.rm(own, { force: true });
          await fs.writeFile(own, data);
          return store.putBlobFile(own, 'checkpoint-file', { link: true });
        }],
      ];
      for (const [how, write] of writers) {
        const ref = await write();
        await overwrite(blobKey(ref.sha256), bad);
        await assert.rejects(store.getBlob(ref), ChecksumError);
        const again = await write();
        assert.ok((await store.getBlob(again)).equals(data), `${how}: a same-size corrupt blob is replaced`);
        await overwrite(blobKey(ref.sha256), data.subarray(0, 1000));
        await write();
        assert.ok((await store.getBlob(again)).equals(data), `${how}: a truncated blob is replaced`);
      }
      assert.equal(await fs.readFile(file).then((b) => b.equals(data)), true, 'the source file is never modified');
      await fs.rm(path.dirname(file), { recursive: true, force: true });
    });

    it('reads refs written with an absolute URI of another root (a moved store written by an older version)', async () => {
      const { store } = await fixture();
      const data = randomBytes(2000);
      const ref = await store.putBlob(data, 'trace');
      for (const uri of [`file:///old/place/${blobKey(ref.sha256)}`, `s3://old-bucket/pre/fix/${blobKey(ref.sha256)}`]) {
        assert.ok((await store.getBlob({ ...ref, uri })).equals(data), uri);
      }
      await assert.rejects(store.getBlob({ ...ref, uri: `file:///old/place/blobs/00/${'0'.repeat(64)}` }), /does not belong to this store/);
    });

    it('verifyBlob and store verify find flipped, truncated and deleted blobs; --repair quarantines them with their manifests', async () => {
      const { store, overwrite } = await fixture();
      const blobs = [randomBytes(5000), randomBytes(6000), randomBytes(7000), randomBytes(8000)];
      const refs = await Promise.all(blobs.map((b) => store.putBlob(b, 'checkpoint-file')));
      // A descriptor-like JSON blob nests refs: a bad nested blob makes the manifest bad too.
      const nested = await store.putBlob(Buffer.from(JSON.stringify({ files: { a: refs[0], b: refs[1] } })), 'checkpoint');
      await store.putJson('stages/a/result.json', { artifacts: [nested] });
      await store.putJson('stages/b/result.json', { artifacts: [refs[2]] });
      await store.putJson('stages/c/result.json', { artifacts: [refs[3]] });
      assert.deepEqual((await verifyStore(store)).problems, []);
      for (const r of refs) assert.deepEqual(await store.verifyBlob(r), { ok: true });

      const flipped = Buffer.from(blobs[0]);
      flipped[1] ^= 0x80;
      await overwrite(blobKey(refs[0].sha256), flipped);
      await overwrite(blobKey(refs[2].sha256), blobs[2].subarray(0, 10));
      await store.delete(blobKey(refs[3].sha256));
      assert.equal((await store.verifyBlob(refs[0])).ok, false);
      assert.deepEqual({ ...(await store.verifyBlob(refs[3])), detail: '' }, { ok: false, problem: 'missing', detail: '' });

      const report = await verifyStore(store);
      assert.deepEqual(report.problems.map((p) => [p.ref.sha256, p.problem]).sort(), [
        [refs[0].sha256, 'corrupt'], [refs[2].sha256, 'corrupt'], [refs[3].sha256, 'missing'],
      ].sort());
      assert.deepEqual(report.badManifests.map((m) => m.key).sort(), ['stages/a/result.json', 'stages/b/result.json', 'stages/c/result.json']);
      assert.equal(await store.exists(blobKey(refs[0].sha256)), true, 'without --repair nothing moves');

      const repaired = await verifyStore(store, { repair: true });
      assert.equal(repaired.repaired, true);
      assert.equal(await store.exists(blobKey(refs[0].sha256)), false, 'the corrupt blob is moved aside');
      assert.equal(await store.exists('stages/a/result.json'), false, 'its manifest too');
      const quarantined = await store.list('quarantine/');
      assert.equal(quarantined.length, 5, quarantined.join(', ')); // 2 corrupt blobs + 3 manifests
      assert.deepEqual(await store.verifyBlob(refs[1]), { ok: true }, 'good blobs stay');
      const after = await verifyStore(store);
      assert.deepEqual([after.problems, after.badManifests], [[], []]);
    });
  });
}
