// The SeaweedFS test service: starts a usable S3 endpoint and stop() leaves no process or data behind.
import { GetObjectCommand, HeadBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
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

it('kill() crashes the server and restart() brings it back on the same endpoint with the stored objects', async () => {
  const server = await startSeaweed({ bucket: 'svc-restart' });
  const client = new S3Client({
    endpoint: server.endpoint, region: server.region, forcePathStyle: true, maxAttempts: 1,
    credentials: { accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey },
  });
  try {
    await client.send(new PutObjectCommand({ Bucket: 'svc-restart', Key: 'k', Body: 'kept across a crash' }));
    const before = server.pid;
    await server.kill();
    assert.equal(groupAlive(before), false, 'the killed process group is gone');
    await assert.rejects(client.send(new HeadBucketCommand({ Bucket: 'svc-restart' })), 'nothing answers while it is down');
    await server.restart();
    assert.notEqual(server.pid, before);
    const got = await client.send(new GetObjectCommand({ Bucket: 'svc-restart', Key: 'k' }));
    assert.equal(await got.Body!.transformToString(), 'kept across a crash');
  } finally {
    client.destroy();
    await server.stop();
  }
  assert.equal(existsSync(server.dataDir), false);
});
