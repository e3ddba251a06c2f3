import assert from 'node:assert/strict';
import { test } from 'node:test';
import { connectClient } from '../../temporal/connection';
import { isServerListening } from '../../temporal/dev-server';
import { startTestTemporal } from '../services/temporal';

test('startTestTemporal gives a working headless server that stop() removes', { timeout: 180_000 }, async () => {
  const temporal = await startTestTemporal();
  try {
    const client = await connectClient({ address: temporal.address, namespace: 'default' });
    try {
      const info = await client.connection.workflowService.getSystemInfo({});
      assert.ok(info.serverVersion, 'getSystemInfo returned a server version');
    } finally {
      await client.connection.close();
    }
  } finally {
    await temporal.stop();
  }
  assert.equal(await isServerListening(temporal.address), false);
});
