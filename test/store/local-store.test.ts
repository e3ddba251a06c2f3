// Local-folder backend: the shared contract plus local specifics (openStore parsing, unwritable folder, races).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { after, describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import { DEFAULT_STORE_DIR, StoreError, blobKey, defaultStorePath, openStore } from '../../store';
import { storeContract } from './store-contract';

const roots: string[] = [];
async function tempRoot(): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'plasticity-store-test-'));
  roots.push(dir);
  return dir;
}
after(async () => {
  for (const dir of roots) await fs.rm(dir, { recursive: true, force: true });
});

storeContract('local', async () => {
  const root = path.join(await tempRoot(), 'store');
  return {
    store: openStore(root),
    overwrite: async (key, bytes) => fs.writeFile(path.join(root, key), bytes),
  };
});

describe('local store specifics', () => {
  it('openStore accepts a plain path, file:// URL, or nothing (default folder)', async () => {
    const root = await tempRoot();
    assert.equal(openStore(root).url, pathToFileURL(root).href);
    assert.equal(openStore(pathToFileURL(root).href).url, pathToFileURL(root).href);
    assert.equal(openStore('rel/dir').url, pathToFileURL(path.resolve('rel/dir')).href);
    assert.equal(openStore().url, pathToFileURL(path.resolve(DEFAULT_STORE_DIR)).href);
    assert.equal(defaultStorePath('/proj'), '/proj/.plasticity/store');
    assert.throws(() => openStore('gs://bucket/x'), /unsupported scheme/);
    assert.throws(() => openStore('s3://Bad_Bucket/x'), /invalid bucket name "Bad_Bucket"/);
    assert.equal(openStore('s3://my-bucket/a/b/').url, 's3://my-bucket/a/b');
  });

  it('an unwritable folder fails check() and writes with a message naming the store', async () => {
    const file = path.join(await tempRoot(), 'a-file');
    await fs.writeFile(file, 'not a folder');
    const store = openStore(path.join(file, 'store')); // a folder cannot be created under a file, even as root
    await assert.rejects(store.check(), (err: unknown) => {
      assert.ok(err instanceof StoreError);
      assert.ok(err.message.includes(store.url), err.message);
      assert.match(err.message, /not writable/);
      return true;
    });
    await assert.rejects(store.putBlob(Buffer.from('x'), 'checkpoint'), (err: unknown) => err instanceof StoreError && err.message.includes(store.url));
    await assert.rejects(store.putJson('a.json', {}), (err: unknown) => err instanceof StoreError && err.message.includes(store.url));
    await openStore(path.join(await tempRoot(), 'fresh', 'store')).check(); // a writable one passes
  });

  it('concurrent writers of the same blob agree and leave one file and no temp files', async () => {
    const root = path.join(await tempRoot(), 'store');
    const store = openStore(root);
    const data = randomBytes(2 * 1024 * 1024);
    const refs = await Promise.all(
      Array.from({ length: 4 }, (_, i) => store.putBlob(i % 2 ? data : Readable.from([data.subarray(0, 1000), data.subarray(1000)]), 'checkpoint')),
    );
    for (const ref of refs) assert.deepEqual(ref, refs[0]);
    assert.deepEqual(await store.list(''), [blobKey(refs[0].sha256)]);
    assert.deepEqual(await fs.readdir(path.join(root, '.tmp')), []);
    assert.ok((await store.getBlob(refs[0])).equals(data));
  });
});
