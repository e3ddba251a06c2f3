// S3 backend against a real SeaweedFS: the shared contract plus multipart uploads, env configuration and failures.
import { HeadObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import * as net from 'node:net';
import { after, describe, it } from 'node:test';
import { S3Backend, StoreError, blobKey, openStore, type ArtifactStore } from '../../store';
import { storeContract } from './store-contract';
import { s3Target, type S3Target } from './s3-target';

const runId = randomBytes(4).toString('hex');
let n = 0;

// Started once for the file; every test awaits it, so a missing/broken S3 target fails each test with its message.
const ready: Promise<{ target: S3Target; raw: S3Client }> = s3Target().then((target) => {
  if (target.startMs !== undefined) console.log(`started SeaweedFS for this test file in ${target.startMs} ms`);
  const raw = new S3Client({ endpoint: target.endpoint, region: target.region, credentials: target.credentials, forcePathStyle: true });
  return { target, raw };
});
ready.catch(() => {}); // reported by the tests

describe('s3 backend', () => {
  after(async () => {
    const started = await ready.catch(() => undefined);
    started?.raw.destroy();
    await started?.target.stop();
  });

  /** A store under a fresh prefix of the test bucket. */
  async function freshStore(): Promise<{ store: ArtifactStore; prefix: string; target: S3Target; raw: S3Client }> {
    const { target, raw } = await ready;
    const prefix = `store-test-${runId}/${n++}`;
    const { endpoint, region, credentials } = target;
    return { store: openStore(`s3://${target.bucket}/${prefix}`, { s3: { endpoint, region, credentials } }), prefix, target, raw };
  }

  storeContract('s3', async () => {
    const { store, prefix, target, raw } = await freshStore();
    return {
      store,
      overwrite: async (key, bytes) => {
        await raw.send(new PutObjectCommand({ Bucket: target.bucket, Key: `${prefix}/${key}`, Body: bytes }));
      },
    };
  });

  describe('s3 store specifics', () => {
    it('uploads a >10 MB blob in multiple parts and reads it back verified', async () => {
      const { store, prefix, target, raw } = await freshStore();
      const data = randomBytes(12 * 1024 * 1024 + 123);
      async function* stream() {
        for (let i = 0; i < data.length; i += 1 << 20) yield data.subarray(i, i + (1 << 20));
      }
      const ref = await store.putBlob(stream(), 'checkpoint');
      assert.equal(ref.bytes, data.length);
      assert.ok((await store.getBlob(ref)).equals(data));
      // S3 reports the number of parts of a multipart object (part size is 8 MiB, so 2 here).
      const head = await raw.send(new HeadObjectCommand({ Bucket: target.bucket, Key: `${prefix}/${blobKey(ref.sha256)}`, PartNumber: 1 }));
      assert.equal(head.PartsCount, 2);
    });

    it('openStore(s3://…) picks up endpoint, region and credentials from the standard AWS env vars', async () => {
      const { target } = await ready;
      const saved = { ...process.env };
      try {
        process.env.AWS_ENDPOINT_URL_S3 = target.endpoint;
        process.env.AWS_REGION = target.region;
        process.env.AWS_ACCESS_KEY_ID = target.credentials.accessKeyId;
        process.env.AWS_SECRET_ACCESS_KEY = target.credentials.secretAccessKey;
        const store = openStore(`s3://${target.bucket}/store-test-${runId}/env`);
        await store.check();
        const ref = await store.putBlob(Buffer.from('via env'), 'report');
        assert.equal((await store.getBlob(ref)).toString(), 'via env');
      } finally {
        process.env = saved;
      }
    });

    it('check() passes on a reachable bucket', async () => {
      await (await freshStore()).store.check();
    });

    it('an endpoint refusing connections fails check() and writes with a message naming the store', async () => {
      const { target } = await ready;
      const port = await closedPort();
      const endpoint = `http://127.0.0.1:${port}`;
      const store = openStore(`s3://${target.bucket}/x`, { s3: { endpoint, region: target.region, credentials: target.credentials } });
      const attempts = [() => store.check(), () => store.putBlob(Buffer.from('x'), 'checkpoint'), () => store.getJson('a.json')];
      for (const attempt of attempts) {
        await assert.rejects(attempt(), (err: unknown) => {
          assert.ok(err instanceof StoreError, String(err));
          assert.ok(err.message.includes(`s3://${target.bucket}/x`), err.message);
          assert.ok(err.message.includes(`cannot reach S3 endpoint ${endpoint}`), err.message);
          return true;
        });
      }
    });

    it('a nonexistent bucket and wrong credentials fail check() clearly', async () => {
      const { target } = await ready;
      const { endpoint, region, credentials } = target;
      const noBucket = openStore(`s3://no-such-bucket-${runId}/p`, { s3: { endpoint, region, credentials } });
      await assert.rejects(noBucket.check(), new RegExp(`s3://no-such-bucket-${runId}/p: .*bucket "no-such-bucket-${runId}" does not exist`));
      const badKeys = openStore(`s3://${target.bucket}/p`, { s3: { endpoint, region, credentials: { accessKeyId: 'nobody', secretAccessKey: 'wrong' } } });
      await assert.rejects(badKeys.check(), new RegExp(`s3://${target.bucket}/p: .*access denied`));
    });

    it('S3Backend maps keys under the prefix and exposes object URIs', () => {
      const credentials = { accessKeyId: 'unused', secretAccessKey: 'unused' };
      const backend = new S3Backend('b', '/some/prefix/', { endpoint: 'http://127.0.0.1:1', credentials });
      assert.equal(backend.url, 's3://b/some/prefix');
      assert.equal(backend.uriOf('blobs/ab/abc'), 's3://b/some/prefix/blobs/ab/abc');
      assert.throws(() => backend.uriOf('a//b'), /invalid key/);
      backend.client.destroy();
    });
  });
});

/** A loopback port nobody listens on (bound, then released). */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise((r) => server.close(r));
  return port;
}
