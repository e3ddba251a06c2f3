// The SeaweedFS test service: starts a usable S3 endpoint and stop() leaves no process or data behind.
import { HeadBucketCommand, S3Client } from '@aws-sdk/client-s3';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { it } from 'node:test';
import { ensureWeed, startSeaweed } from './seaweedfs';

function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

it('startSeaweed serves the bucket with its credentials; stop() kills the process group and removes the data', async (t) => {
  const weed = await ensureWeed();
  assert.ok(existsSync(weed), weed);
  const server = await startSeaweed({ bucket: 'svc-test' });
  t.diagnostic(`SeaweedFS ready in ${server.startMs} ms at ${server.endpoint}`);
  try {
    assert.match(server.endpoint, /^http:\/\/127\.0\.0\.1:\d+$/);
    const client = new S3Client({
      endpoint: server.endpoint, region: server.region, forcePathStyle: true,
      credentials: { accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey },
    });
    await client.send(new HeadBucketCommand({ Bucket: 'svc-test' }));
    client.destroy();
    assert.equal(groupAlive(server.pid), true);
  } finally {
    await server.stop();
  }
  assert.equal(groupAlive(server.pid), false);
  assert.equal(existsSync(server.dataDir), false);
});
