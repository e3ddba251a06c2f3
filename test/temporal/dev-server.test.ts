// The dev-server manager against the real `temporal` binary: start, search attributes,
// a workflow end to end (bundled from dist), stop, restart on the same SQLite file.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Writable } from 'node:stream';
import { after, test } from 'node:test';
import type { Client } from '@temporalio/client';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { DefaultLogger, Runtime, Worker } from '@temporalio/worker';
import { connectClient, connectNative } from '../../temporal/connection';
import { isServerListening, startDevServer, type DevServer } from '../../temporal/dev-server';
import { progressKey, searchAttributeKeys, stageKey } from '../../temporal/search-attributes';
import * as activities from './fixtures/activities';
import { greetingWorkflow } from './fixtures/workflows';

Runtime.install({ logger: new DefaultLogger('WARN') });

const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'plasticity-devserver-'));
const dbFile = path.join(stateDir, 'temporal.db');
const serverOutput: string[] = [];
const log = new Writable({
  write(chunk, _encoding, done) {
    serverOutput.push(String(chunk));
    done();
  },
});
const running: DevServer[] = [];
after(async () => {
  for (const server of running) await server.stop();
  fs.rmSync(stateDir, { recursive: true, force: true });
});

// Protocol values of temporal.api.enums.v1.IndexedValueType.
const INDEXED_VALUE_TYPE = { KEYWORD: 2, DOUBLE: 4 } as const;
const namespace = 'default';
const workflowId = `greeting-${randomUUID()}`;
let server: DevServer;

async function customAttributes(address: string): Promise<Record<string, number>> {
  const client = await connectClient({ address, namespace });
  try {
    const response = await client.connection.operatorService.listSearchAttributes({ namespace });
    return Object.fromEntries(Object.entries(response.customAttributes).filter(([name]) => name.startsWith('Plasticity')));
  } finally {
    await client.connection.close();
  }
}

// Visibility is updated asynchronously; poll a bounded number of times.
async function workflowIdsMatching(client: Client, query: string): Promise<string[]> {
  let ids: string[] = [];
  for (let attempt = 0; attempt < 60; attempt++) {
    ids = [];
    for await (const execution of client.workflow.list({ query })) ids.push(execution.workflowId);
    if (ids.length > 0) break;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  return ids;
}

function assertProcessGone(pid: number): void {
  assert.throws(() => process.kill(pid, 0), { code: 'ESRCH' }, `process ${pid} is still running`);
}

test('a pre-existing database gets the search attributes it lacks', { timeout: 180_000 }, async () => {
  // Create the SQLite file with a server that knows only PlasticityStage...
  const first = await startDevServer({ ui: false, dbFile, log, searchAttributes: [stageKey] });
  running.push(first);
  assert.deepEqual(Object.keys(await customAttributes(first.address)), ['PlasticityStage']);
  await first.stop();
  assertProcessGone(first.process.pid!);

  // ...then start-dev ignores new --search-attribute flags for it, so the manager adds them.
  server = await startDevServer({ dbFile, log });
  running.push(server);
  console.log(`dev server (existing db, UI on) healthy after ${server.startupMs} ms; first start took ${first.startupMs} ms`);
  const attributes = await customAttributes(server.address);
  assert.deepEqual(attributes, {
    PlasticityExperiment: INDEXED_VALUE_TYPE.KEYWORD,
    PlasticityModel: INDEXED_VALUE_TYPE.KEYWORD,
    PlasticityStage: INDEXED_VALUE_TYPE.KEYWORD,
    PlasticityProgress: INDEXED_VALUE_TYPE.DOUBLE,
    PlasticitySweep: INDEXED_VALUE_TYPE.KEYWORD,
  });
  assert.equal(searchAttributeKeys.length, Object.keys(attributes).length);
});

test('the server listens on free ports on 127.0.0.1 and serves the Web UI', { timeout: 120_000 }, async () => {
  assert.match(server.address, /^127\.0\.0\.1:\d+$/);
  assert.equal(await isServerListening(server.address), true);
  assert.match(server.uiUrl ?? '', /^http:\/\/127\.0\.0\.1:\d+$/);
  assert.notEqual(server.uiUrl, `http://${server.address}`);
  let status = 0;
  for (let attempt = 0; attempt < 60 && status !== 200; attempt++) {
    status = await fetch(server.uiUrl!).then((r) => r.status, () => 0);
    if (status !== 200) await new Promise((resolve) => setTimeout(resolve, 500));
  }
  assert.equal(status, 200, `Web UI at ${server.uiUrl} did not answer 200`);
});

test('a workflow runs end to end with a worker bundled from the compiled dist/ files', { timeout: 180_000 }, async () => {
  const workflowsPath = require.resolve('./fixtures/workflows');
  assert.match(workflowsPath, /[/\\]dist[/\\]test[/\\]temporal[/\\]fixtures[/\\]workflows\.js$/);
  const settings = { address: server.address, namespace };
  const client = await connectClient(settings);
  const connection = await connectNative(settings);
  try {
    const taskQueue = `test-${randomUUID()}`;
    const worker = await Worker.create({ connection, namespace, taskQueue, workflowsPath, activities });
    const result = await worker.runUntil(
      client.workflow.execute(greetingWorkflow, { taskQueue, workflowId, args: ['plasticity'] }),
    );
    assert.equal(result, 'hello, plasticity');

    const handle = client.workflow.getHandle(workflowId);
    const description = await handle.describe();
    assert.equal(description.status.name, 'COMPLETED');
    assert.equal(description.typedSearchAttributes.get(stageKey), 'done');
    assert.equal(description.typedSearchAttributes.get(progressKey), 1);
    assert.deepEqual(await workflowIdsMatching(client, `PlasticityStage = "done" AND WorkflowId = "${workflowId}"`), [workflowId]);

    // Replaying a JSON history needs a single protobufjs copy (protobufjs 8 is a direct dependency).
    const history = JSON.parse(historyToJSON(await handle.fetchHistory()));
    await Worker.runReplayHistory({ workflowsPath }, history, workflowId);
  } finally {
    await connection.close();
    await client.connection.close();
  }
});

test('stop() ends the process and frees the port', { timeout: 60_000 }, async () => {
  const pid = server.process.pid!;
  await server.stop();
  assert.notEqual(server.process.exitCode ?? server.process.signalCode, null);
  assertProcessGone(pid);
  assert.equal(await isServerListening(server.address), false);
  await server.stop(); // idempotent
});

test('a restart on the same database still shows the completed workflow', { timeout: 180_000 }, async () => {
  const again = await startDevServer({ ui: false, dbFile, log });
  running.push(again);
  assert.equal(again.uiUrl, undefined);
  const client = await connectClient({ address: again.address, namespace });
  try {
    const handle = client.workflow.getHandle(workflowId);
    assert.equal((await handle.describe()).status.name, 'COMPLETED');
    assert.equal(await handle.result(), 'hello, plasticity');
    assert.deepEqual(await workflowIdsMatching(client, 'PlasticityStage = "done"'), [workflowId]);
  } finally {
    await client.connection.close();
  }
  await again.stop();
  assertProcessGone(again.process.pid!);
});

test('a server that exits early is reported with its output', { timeout: 60_000 }, async () => {
  const binary = path.join(stateDir, 'exits-early');
  fs.writeFileSync(binary, '#!/bin/sh\necho "cannot open the database" >&2\nexit 3\n', { mode: 0o755 });
  await assert.rejects(
    startDevServer({ binary, ui: false, stateDir, log }),
    /temporal dev server exited \(3\) before becoming healthy at 127\.0\.0\.1:\d+:\ncannot open the database/,
  );
});

test('a server that never becomes healthy times out and is stopped', { timeout: 60_000 }, async () => {
  const binary = path.join(stateDir, 'never-ready');
  const pidFile = path.join(stateDir, 'never-ready.pid');
  fs.writeFileSync(binary, `#!/bin/sh\necho $$ > '${pidFile}'\necho "still warming up" >&2\nexec sleep 60\n`, { mode: 0o755 });
  await assert.rejects(
    startDevServer({ binary, ui: false, stateDir, log, readyTimeoutMs: 1500, stopGraceMs: 2000 }),
    /not healthy after 1500 ms[\s\S]*still warming up/,
  );
  assertProcessGone(Number(fs.readFileSync(pidFile, 'utf8')));
});

test('a binary that cannot be spawned is reported', { timeout: 60_000 }, async () => {
  const binary = path.join(stateDir, 'does-not-exist');
  await assert.rejects(
    startDevServer({ binary, ui: false, stateDir, log }),
    /could not be started:\nspawn error: spawn .*does-not-exist ENOENT/,
  );
});
