import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { inspect } from 'node:util';
import {
  connectClient,
  connectNative,
  connectionSettings,
  describeConnectionSettings,
  loadTlsConfig,
  workflowUiUrl,
} from '../../temporal/connection';

test('defaults: local dev server, plaintext, derived UI URL', () => {
  const settings = connectionSettings({});
  assert.deepEqual({ ...settings }, {
    address: '127.0.0.1:7233',
    namespace: 'default',
    uiUrl: 'http://127.0.0.1:8233',
  });
});

test('address, namespace and UI URL come from the environment', () => {
  const settings = connectionSettings({
    TEMPORAL_ADDRESS: 'localhost:7400',
    TEMPORAL_NAMESPACE: 'lineages',
    TEMPORAL_UI_URL: 'https://ui.example.test/',
  });
  assert.equal(settings.address, 'localhost:7400');
  assert.equal(settings.namespace, 'lineages');
  assert.equal(settings.uiUrl, 'https://ui.example.test');
  assert.equal(settings.tls, undefined);
  assert.equal(
    workflowUiUrl(settings, 'lineage-a/b'),
    'https://ui.example.test/namespaces/lineages/workflows/lineage-a%2Fb',
  );
});

test('derived UI URL follows the gRPC port of a local server, none for a remote one', () => {
  assert.equal(connectionSettings({ TEMPORAL_ADDRESS: '127.0.0.1:40001' }).uiUrl, 'http://127.0.0.1:41001');
  assert.equal(connectionSettings({ TEMPORAL_ADDRESS: 'temporal.internal:7233' }).uiUrl, undefined);
});

test('empty variables count as unset', () => {
  const settings = connectionSettings({ TEMPORAL_ADDRESS: '', TEMPORAL_TLS: ' ', TEMPORAL_API_KEY: '' });
  assert.equal(settings.address, '127.0.0.1:7233');
  assert.equal(settings.tls, undefined);
  assert.equal(settings.apiKey, undefined);
});

test('TEMPORAL_TLS=true enables TLS without client certificate', () => {
  const settings = connectionSettings({ TEMPORAL_ADDRESS: 'temporal.internal:7233', TEMPORAL_TLS: 'true' });
  assert.deepEqual(settings.tls, {});
  assert.equal(connectionSettings({ TEMPORAL_TLS: 'false' }).tls, undefined);
});

test('mTLS: certificate, key, CA and server name', () => {
  const settings = connectionSettings({
    TEMPORAL_ADDRESS: 'temporal.internal:7233',
    TEMPORAL_TLS_CERT: '/certs/client.pem',
    TEMPORAL_TLS_KEY: '/certs/client.key',
    TEMPORAL_TLS_CA: '/certs/ca.pem',
    TEMPORAL_TLS_SERVER_NAME: 'temporal',
  });
  assert.deepEqual(settings.tls, {
    certFile: '/certs/client.pem',
    keyFile: '/certs/client.key',
    caFile: '/certs/ca.pem',
    serverName: 'temporal',
  });
  assert.match(describeConnectionSettings(settings), /temporal\.internal:7233 namespace=default tls \(mTLS\)/);
});

test('an API key implies TLS and is never shown in logs, JSON or inspect output', () => {
  const secret = 'sk-very-secret-123';
  const settings = connectionSettings({ TEMPORAL_ADDRESS: 'ns.tmprl.example:7233', TEMPORAL_API_KEY: secret });
  assert.deepEqual(settings.tls, {});
  assert.equal(settings.apiKey?.reveal(), secret);
  for (const shown of [describeConnectionSettings(settings), JSON.stringify(settings), inspect(settings), `${settings.apiKey}`]) {
    assert.ok(!shown.includes(secret), `secret leaked in: ${shown}`);
  }
  assert.match(describeConnectionSettings(settings), /api-key=<redacted>/);
});

test('invalid values give errors that name the variable', () => {
  const cases: [NodeJS.ProcessEnv, RegExp][] = [
    [{ TEMPORAL_ADDRESS: 'http://127.0.0.1:7233' }, /TEMPORAL_ADDRESS="http:\/\/127\.0\.0\.1:7233": expected host:port/],
    [{ TEMPORAL_ADDRESS: '127.0.0.1' }, /TEMPORAL_ADDRESS="127\.0\.0\.1": expected host:port/],
    [{ TEMPORAL_ADDRESS: '127.0.0.1:99999' }, /TEMPORAL_ADDRESS/],
    [{ TEMPORAL_NAMESPACE: 'my namespace' }, /TEMPORAL_NAMESPACE="my namespace"/],
    [{ TEMPORAL_TLS: 'yes please' }, /TEMPORAL_TLS="yes please": expected true or false/],
    [{ TEMPORAL_TLS_CERT: '/c.pem' }, /TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY: expected both/],
    [{ TEMPORAL_TLS_KEY: '/c.key' }, /TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY: expected both/],
    [{ TEMPORAL_TLS: 'false', TEMPORAL_API_KEY: 'k' }, /TEMPORAL_TLS=false conflicts with TEMPORAL_API_KEY/],
    [{ TEMPORAL_TLS: 'false', TEMPORAL_TLS_CA: '/ca.pem' }, /TEMPORAL_TLS=false conflicts with TEMPORAL_TLS_CA/],
    [{ TEMPORAL_TLS_CLIENT_CERT_PATH: '/c.pem' }, /TEMPORAL_TLS_CLIENT_CERT_PATH is not supported; expected one of TEMPORAL_TLS, TEMPORAL_TLS_CERT/],
    [{ TEMPORAL_UI_URL: 'localhost:8233' }, /TEMPORAL_UI_URL="localhost:8233": expected an http\(s\) URL/],
  ];
  for (const [env, expected] of cases) {
    assert.throws(() => connectionSettings(env), expected, `env ${JSON.stringify(env)}`);
  }
});

test('loadTlsConfig reads the certificate files, and names the variable of a missing one', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'plasticity-tls-'));
  try {
    for (const name of ['ca.pem', 'client.pem', 'client.key']) fs.writeFileSync(path.join(dir, name), `contents of ${name}`);
    const config = loadTlsConfig({
      caFile: path.join(dir, 'ca.pem'),
      certFile: path.join(dir, 'client.pem'),
      keyFile: path.join(dir, 'client.key'),
      serverName: 'temporal',
    });
    assert.equal(config?.serverNameOverride, 'temporal');
    assert.equal(Buffer.from(config!.serverRootCACertificate!).toString(), 'contents of ca.pem');
    assert.equal(Buffer.from(config!.clientCertPair!.crt).toString(), 'contents of client.pem');
    assert.equal(Buffer.from(config!.clientCertPair!.key).toString(), 'contents of client.key');
    assert.equal(loadTlsConfig(undefined), undefined);
    const missing = path.join(dir, 'nope.pem');
    assert.throws(() => loadTlsConfig({ caFile: missing }), new RegExp(`TEMPORAL_TLS_CA=${missing}: cannot read the file \\(ENOENT\\)`));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('connecting to a port where no server listens fails with an error naming the address', async () => {
  const settings = connectionSettings({ TEMPORAL_ADDRESS: '127.0.0.1:1' });
  await assert.rejects(connectNative(settings), /cannot connect to Temporal at 127\.0\.0\.1:1 namespace=default plaintext: .*Connection refused/);
  await assert.rejects(connectClient(settings, { connectTimeoutMs: 300 }), /cannot connect to Temporal at 127\.0\.0\.1:1 namespace=default plaintext/);
});

test('PLASTICITY_DEV_SERVER_PORT moves the local default address; TEMPORAL_ADDRESS still wins; a bad value names the variable', () => {
  assert.equal(connectionSettings({ PLASTICITY_DEV_SERVER_PORT: '17233' }).address, '127.0.0.1:17233');
  assert.equal(connectionSettings({ PLASTICITY_DEV_SERVER_PORT: '17233', TEMPORAL_ADDRESS: 'temporal.internal:7233' }).address, 'temporal.internal:7233');
  assert.throws(() => connectionSettings({ PLASTICITY_DEV_SERVER_PORT: 'x' }), /PLASTICITY_DEV_SERVER_PORT="x": expected a port number/);
  assert.throws(() => connectionSettings({ PLASTICITY_DEV_SERVER_PORT: '65000' }), /PLASTICITY_DEV_SERVER_PORT="65000"/);
});
