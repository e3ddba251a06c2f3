// The cluster shape on one machine: the orchestrator, a cpu worker and a gpu worker run as three separate
// `node dist/workers/main.js` processes with the command lines and environment variables of deploy/compose.yaml
// (values pointed at the harness's Temporal dev server and SeaweedFS). A tiny lineage runs to completion; its history
// shows training and tracing on the gpu queue, everything else on the cpu queue, each task executed by the process
// serving that queue, and no S3 secret anywhere in it. Each worker then stops cleanly on SIGTERM.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import type { Client } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { loadConfig } from '../../config/load';
import { QUEUE_ROLES, taskQueues, type QueueRole } from '../../contract/lineage';
import { openStore } from '../../store/open';
import { connectClient, connectionSettings } from '../../temporal/connection';
import { startLineage } from '../../temporal/lineage-client';
import { projectRoot } from '../../temporal/project-root';
import { parseWorkerArgs } from '../../cli/worker-options';
import { composeWorkers, loadCompose, plainValue, type WorkerSpec } from './deploy-files';

const MAIN = path.join(projectRoot(), 'dist', 'workers', 'main.js');
const TINY_CONFIG = path.join(projectRoot(), 'configs', 'tiny-test.yaml');
/** Activities that belong on the gpu queue; every other activity type belongs on the cpu queue. */
const GPU_ACTIVITIES = ['trainStage', 'traceStage'];
const LINEAGE_TIMEOUT_MS = 15 * 60_000;

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: this test needs the harness's Temporal and SeaweedFS (node dist/test/harness.js deploy)`);
  return value;
}

interface WorkerProcess {
  role: QueueRole;
  child: ChildProcess;
  output: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const prefix = `deploy-mp-${randomBytes(4).toString('hex')}`;
const workers: WorkerProcess[] = [];
let client: Client;
let harness: { address: string; endpoint: string; bucket: string; accessKeyId: string; secretAccessKey: string; region: string };

/** The compose service whose command serves `role` (the GPU one for the gpu queue). */
function composeWorkerFor(specs: WorkerSpec[], role: QueueRole): WorkerSpec {
  const candidates = specs.filter((s) => parseWorkerArgs(s.args).queues.join() === role);
  const spec = role === 'gpu' ? candidates.find((s) => s.gpus > 0) : candidates[0];
  assert.ok(spec, `deploy/compose.yaml has no worker for the ${role} queue`);
  return spec;
}

/** The compose worker's environment with the harness's endpoints and this test's queue prefix. */
function workerEnv(spec: WorkerSpec): NodeJS.ProcessEnv {
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(TEMPORAL_|AWS_|PLASTICITY_)/.test(k)));
  const mapped: Record<string, string> = {
    TEMPORAL_ADDRESS: harness.address,
    TEMPORAL_NAMESPACE: plainValue(undefined, spec.env.get('TEMPORAL_NAMESPACE')) ?? 'default',
    PLASTICITY_TASK_QUEUE_PREFIX: prefix,
    AWS_ENDPOINT_URL_S3: harness.endpoint,
    AWS_REGION: harness.region,
    AWS_ACCESS_KEY_ID: harness.accessKeyId,
    AWS_SECRET_ACCESS_KEY: harness.secretAccessKey,
  };
  const env: NodeJS.ProcessEnv = { ...base };
  for (const name of spec.env.keys()) {
    assert.ok(name in mapped, `${spec.where} sets ${name}; this test does not know what value it should get here`);
    env[name] = mapped[name];
  }
  return env;
}

function startWorker(role: QueueRole, spec: WorkerSpec): WorkerProcess {
  const child = spawn(process.execPath, [MAIN, ...spec.args], { env: workerEnv(spec), stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (output += c.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => setImmediate(() => resolve({ code, signal }))),
  );
  return { role, child, output: () => output, exited };
}

/** Resolves once Temporal lists the worker process (by its identity) as a poller of its queue. */
async function polling(worker: WorkerProcess, queue: string, timeoutMs = 180_000): Promise<void> {
  const identity = `${worker.child.pid}@${os.hostname()}`;
  const { TaskQueueType } = temporal.api.enums.v1;
  const taskQueueType = worker.role === 'orchestrator' ? TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW : TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY;
  const deadline = Date.now() + timeoutMs;
  let exited = false;
  void worker.exited.then(() => (exited = true));
  for (;;) {
    const { pollers } = await client.workflowService.describeTaskQueue({ namespace: 'default', taskQueue: { name: queue }, taskQueueType });
    if ((pollers ?? []).some((p) => p.identity === identity)) return;
    if (exited) throw new Error(`the ${worker.role} worker exited before polling ${queue}:\n${worker.output()}`);
    if (Date.now() > deadline) throw new Error(`the ${worker.role} worker (${identity}) did not poll ${queue} within ${timeoutMs} ms:\n${worker.output()}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** Fails as soon as any worker process dies, naming it and showing its output. */
function anyWorkerDies(): Promise<never> {
  const dies = Promise.race(
    workers.map((w) => w.exited.then(({ code, signal }) => {
      throw new Error(`the ${w.role} worker (pid ${w.child.pid}) exited (code ${code}, signal ${signal}) during the lineage:\n${w.output()}`);
    })),
  );
  dies.catch(() => undefined); // only a race loser once the lineage is done; never an unhandled rejection
  return dies;
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms)));
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

before(async () => {
  harness = {
    address: required('PLASTICITY_TEST_TEMPORAL_ADDRESS'),
    endpoint: required('PLASTICITY_TEST_S3_ENDPOINT'),
    bucket: required('PLASTICITY_TEST_S3_BUCKET'),
    accessKeyId: required('AWS_ACCESS_KEY_ID'),
    secretAccessKey: required('AWS_SECRET_ACCESS_KEY'),
    region: process.env.AWS_REGION || 'us-east-1',
  };
  client = await connectClient(connectionSettings({ TEMPORAL_ADDRESS: harness.address }));
});

after(async () => {
  for (const w of workers) if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill('SIGKILL');
  await Promise.all(workers.map((w) => w.exited));
  await client?.connection.close();
});

test('orchestrator, cpu and gpu workers as separate processes run a lineage with every activity on its queue', { timeout: LINEAGE_TIMEOUT_MS + 300_000 }, async () => {
  const specs = composeWorkers(loadCompose());
  const queues = taskQueues(prefix);
  for (const role of QUEUE_ROLES) workers.push(startWorker(role, composeWorkerFor(specs, role)));
  await Promise.all(workers.map((w) => Promise.race([polling(w, queues[w.role]), anyWorkerDies()])));

  // The client holds no S3 credentials: only the store URL travels in the workflow input.
  const storeUrl = `s3://${harness.bucket}/${prefix}`;
  const loaded = loadConfig(TINY_CONFIG, { set: [`store=${storeUrl}`] });
  const started = await startLineage(client, loaded, { queues: prefix, codeVersion: `deploy-test-${prefix}` });
  const result = await withTimeout(Promise.race([started.handle.result(), anyWorkerDies()]), LINEAGE_TIMEOUT_MS, `lineage ${started.workflowId}`);

  assert.equal(result.storeUrl, storeUrl);
  assert.ok(Object.values(result.statuses).every((s) => s === 'done'), `every stage computed here: ${JSON.stringify(result.statuses)}`);
  assert.ok(result.compare.uri.startsWith("blobs/"), `compare result: a ref relative to ${storeUrl}: ${result.compare.uri}`);

  // ── which queue each activity was scheduled on, and which process ran it ──────────────────────────────────────
  const history = await started.handle.fetchHistory();
  const events = history.events ?? [];
  const scheduled = new Map<string, { type: string; queue: string }>();
  const ranBy = new Map<string, string>(); // scheduled event id → identity of the worker that started it
  const workflowTaskIdentities = new Set<string>();
  for (const e of events) {
    const s = e.activityTaskScheduledEventAttributes;
    if (s) scheduled.set(String(e.eventId), { type: s.activityType?.name ?? '', queue: s.taskQueue?.name ?? '' });
    const st = e.activityTaskStartedEventAttributes;
    if (st) ranBy.set(String(st.scheduledEventId), st.identity ?? '');
    const wt = e.workflowTaskStartedEventAttributes;
    if (wt?.identity) workflowTaskIdentities.add(wt.identity);
  }
  const identityOf = (role: QueueRole) => `${workers.find((w) => w.role === role)!.child.pid}@${os.hostname()}`;

  const types = new Set([...scheduled.values()].map((s) => s.type));
  for (const type of ['validateConfig', 'trainStage', 'traceStage', 'compareStage']) assert.ok(types.has(type), `expected ${type} in the history (saw ${[...types].join(', ')})`);
  const perRole: Record<QueueRole, number> = { orchestrator: 0, gpu: 0, cpu: 0 };
  for (const [id, { type, queue }] of scheduled) {
    const role: QueueRole = GPU_ACTIVITIES.includes(type) ? 'gpu' : 'cpu';
    assert.equal(queue, queues[role], `${type} (event ${id}) scheduled on ${queue}, expected ${queues[role]}`);
    const identity = ranBy.get(id);
    assert.equal(identity, identityOf(role), `${type} (event ${id}) ran on ${identity}, expected the ${role} worker process ${identityOf(role)}`);
    perRole[role]++;
  }
  assert.deepEqual([...workflowTaskIdentities], [identityOf('orchestrator')], 'every workflow task ran in the orchestrator process');
  perRole.orchestrator = events.filter((e) => e.workflowTaskCompletedEventAttributes).length;
  for (const role of QUEUE_ROLES) assert.ok(perRole[role] > 0, `the ${role} worker process executed no task`);

  // ── the secret never travels through Temporal; the store URL does (positive control for the search) ───────────
  const encoded = Buffer.from(temporal.api.history.v1.History.encode(history).finish());
  assert.ok(encoded.includes(storeUrl), 'the encoded history should contain the store URL');
  assert.ok(!encoded.includes(harness.secretAccessKey), 'the S3 secret key appears in the workflow history');
  assert.ok(!encoded.includes(harness.accessKeyId), 'the S3 access key id appears in the workflow history');

  // ── what the gpu process wrote is in S3: every stage's artifacts ────────────────────────────────────────────
  const store = openStore(storeUrl, { s3: { endpoint: harness.endpoint } });
  for (const [name, stage] of Object.entries(result.stages)) {
    for (const ref of stage.artifacts) assert.ok(await store.hasBlob(ref), `stage ${name}: ${ref.uri} is not in the store`);
  }

  // ── SIGTERM: each process drains and exits 0 ───────────────────────────────────────────────────────────────────
  for (const w of workers) w.child.kill('SIGTERM');
  for (const w of workers) {
    const { code, signal } = await withTimeout(w.exited, 120_000, `the ${w.role} worker's shutdown`);
    assert.equal(code, 0, `the ${w.role} worker exited with code ${code} (signal ${signal}) on SIGTERM:\n${w.output().slice(-3000)}`);
  }
});
