// Fault drills against real services on loopback: a Temporal dev server (persistent SQLite file, so it can be
// restarted), SeaweedFS S3 (restartable on the same ports and data) and worker processes (`node dist/workers/main.js`)
// that are SIGKILLed. Each drill runs the lineage under one kind of fault and is compared with an unbroken reference
// run on the same backend: every stage's weights sha256 and the compare artifact must be equal, and every object in
// the store must be whole (each blob hashes to its name, each manifest's blobs exist with the right sha256).
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { Client } from '@temporalio/client';
import { loadConfig, type LoadedConfig } from '../config/load';
import { openStore } from '../store/open';
import { BLOB_PREFIX, QUARANTINE_PREFIX, blobKey, findArtifactRefs, type ArtifactStore } from '../store/artifact-store';
import { startDevServer, type DevServer } from '../temporal/dev-server';
import { connectClient, connectionSettings } from '../temporal/connection';
import { codeVersion, startLineage, type LineageHandle } from '../temporal/lineage-client';
import { projectRoot } from '../temporal/project-root';
import type { LineageOptions, LineageResult } from '../contract/lineage';
import type { ArtifactRef } from '../store/artifact-ref';
import { MODEL_FILE } from '../checkpoint/files';
import type { CheckpointDescriptor } from '../checkpoint/store';
import { startSeaweed, type SeaweedServer } from '../test/services/seaweedfs';

export const DRILLS = ['kill', 'cpu', 's3', 'corrupt', 'temporal'] as const;
export type DrillName = (typeof DRILLS)[number];

export const DRILL_TITLES: Record<DrillName, string> = {
  kill: 'worker SIGKILL',
  cpu: 'cpu worker SIGKILL mid cpu-queue activity',
  s3: 'S3 server killed mid-upload',
  corrupt: 'blob corrupted between runs',
  temporal: 'Temporal server restarted',
};

export interface DrillOptions {
  /** Worker SIGKILLs in the kill drill (default 20). */
  kills?: number;
  /** Seeds every random choice (kill moments and targets, the corrupted blob and byte). */
  seed?: number;
  /** tfjs backend of the lineage (default cpu: deterministic and fast on the tiny config). */
  backend?: string;
  /** Config file (default configs/tiny-test.yaml) and overrides. */
  config?: string;
  set?: string[];
  drills?: readonly DrillName[];
  /** Bound on one lineage run (default 10 min). */
  lineageTimeoutMs?: number;
  /** Bound on a killed worker's replacement reporting that it polls (default 2 min). */
  workerStartTimeoutMs?: number;
  /** Where logs and the Temporal database go (default: a new temp folder, removed unless keepWorkDir). */
  workDir?: string;
  keepWorkDir?: boolean;
  log?: (line: string) => void;
}

export interface DrillRow {
  drill: DrillName;
  fault: string;
  /** Faults injected / planned. */
  injected: number;
  planned: number;
  survived: boolean;
  wallMs: number;
  /** (wallMs − reference) / reference. */
  overhead: number;
  /** Why it failed, or what happened. */
  notes: string[];
}

export interface DrillReport {
  backend: string;
  seed: number;
  referenceMs: number;
  rows: DrillRow[];
  load: number[];
  ok: boolean;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** mulberry32: a small seeded generator, so a drill is reproducible from its seed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A worker OS process serving some queues; `ready` resolves when it logs that it polls. */
interface WorkerProcess {
  role: string;
  child: ChildProcess;
  ready: Promise<void>;
  exited: Promise<void>;
  expectedExit: boolean;
}

// ── Services ───────────────────────────────────────────────────────────────────────────────────────────────────

class DrillServices {
  temporal!: DevServer;
  s3!: SeaweedServer;
  client!: Client;
  private workers: WorkerProcess[] = [];
  private port = 0;
  private dbFile: string;
  unexpectedExits: string[] = [];
  private workerSerial = 0;

  constructor(
    readonly workDir: string,
    readonly prefix: string,
    readonly roles: string[],
    private readonly log: (line: string) => void,
    private readonly workerStartTimeoutMs: number,
  ) {
    this.dbFile = path.join(workDir, 'temporal.db');
  }

  async start(): Promise<void> {
    const tlog = fs.createWriteStream(path.join(this.workDir, 'temporal.log'), { flags: 'a' });
    const [temporal, s3] = await Promise.all([startDevServer({ ui: false, dbFile: this.dbFile, log: tlog }), startSeaweed({ bucket: 'plasticity-drill' })]);
    this.temporal = temporal;
    this.s3 = s3;
    this.port = Number(temporal.address.split(':').pop());
    this.client = await connectClient(connectionSettings({ TEMPORAL_ADDRESS: temporal.address }));
    this.log(`services: temporal ${temporal.address} (db ${this.dbFile}), s3 ${s3.endpoint}`);
    await Promise.all(this.roles.map((r) => this.spawnWorker(r).ready));
  }

  env(): NodeJS.ProcessEnv {
    return {
      ...process.env,
      TEMPORAL_ADDRESS: this.temporal.address,
      AWS_ACCESS_KEY_ID: this.s3.accessKeyId,
      AWS_SECRET_ACCESS_KEY: this.s3.secretAccessKey,
      AWS_REGION: this.s3.region,
      AWS_ENDPOINT_URL_S3: this.s3.endpoint,
    };
  }

  store(storePrefix: string): ArtifactStore {
    return openStore(`s3://${this.s3.bucket}/${storePrefix}`, {
      s3: { endpoint: this.s3.endpoint, region: this.s3.region, credentials: { accessKeyId: this.s3.accessKeyId, secretAccessKey: this.s3.secretAccessKey } },
    });
  }

  s3Client(): S3Client {
    return new S3Client({
      endpoint: this.s3.endpoint, region: this.s3.region, forcePathStyle: true,
      credentials: { accessKeyId: this.s3.accessKeyId, secretAccessKey: this.s3.secretAccessKey },
    });
  }

  /** A worker process for `role` (a comma-separated queue list); replaced by the supervisor if it dies on its own. */
  spawnWorker(role: string): WorkerProcess {
    const main = path.join(projectRoot(), 'dist', 'workers', 'main.js');
    const logFile = path.join(this.workDir, `worker-${role.replace(/,/g, '+')}-${++this.workerSerial}.log`);
    const out = fs.openSync(logFile, 'a');
    const child = spawn(process.execPath, [main, '--queues', role, '--queue-prefix', this.prefix, '--log-level', 'WARN'], {
      env: this.env(),
      stdio: ['ignore', out, 'pipe'],
      detached: true, // its own process group: a kill reaches any helper process it starts
    });
    fs.closeSync(out);
    const proc: WorkerProcess = { role, child, ready: Promise.resolve(), exited: Promise.resolve(), expectedExit: false };
    proc.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    let text = '';
    proc.ready = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`worker ${role} (pid ${child.pid}) did not report "polling" within ${this.workerStartTimeoutMs / 1000} s; log ${logFile}`)),
        this.workerStartTimeoutMs,
      );
      child.stderr!.on('data', (d: Buffer) => {
        fs.appendFileSync(logFile, d);
        text += d.toString();
        if (/workers: polling/.test(text)) {
          clearTimeout(timer);
          resolve();
        }
      });
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`worker ${role} (pid ${child.pid}) exited (${signal ?? code}) before polling; log ${logFile}`));
      });
    });
    proc.ready.catch(() => undefined);
    child.once('exit', (code, signal) => {
      this.workers = this.workers.filter((w) => w !== proc);
      if (proc.expectedExit) return;
      const tail = text.split('\n').filter(Boolean).slice(-3).join(' | ');
      this.unexpectedExits.push(`${role} exited by itself (${signal ?? code}): ${tail.slice(0, 300)}`);
      this.log(`supervisor: worker ${role} pid ${child.pid} exited by itself (${signal ?? code}); starting another (log ${logFile})`);
      this.spawnWorker(role);
    });
    this.workers.push(proc);
    return proc;
  }

  workerFor(role: string): WorkerProcess | undefined {
    return this.workers.find((w) => w.role === role);
  }

  /** SIGKILLs the worker process group of `role`, then starts a replacement and waits until it polls. */
  async killWorker(role: string): Promise<{ pid: number; restartMs: number }> {
    const victim = this.workerFor(role);
    if (!victim) throw new Error(`no running worker for ${role}`);
    await victim.ready.catch(() => undefined);
    victim.expectedExit = true;
    try {
      process.kill(-victim.child.pid!, 'SIGKILL');
    } catch {
      /* already gone */
    }
    await victim.exited;
    const t0 = Date.now();
    await this.spawnWorker(role).ready;
    return { pid: victim.child.pid!, restartMs: Date.now() - t0 };
  }

  /** Stops the Temporal dev server (SIGTERM) and starts it again on the same port with the same database. */
  async restartTemporal(downMs: number): Promise<number> {
    await this.temporal.stop();
    await sleep(downMs);
    const t0 = Date.now();
    const tlog = fs.createWriteStream(path.join(this.workDir, 'temporal.log'), { flags: 'a' });
    this.temporal = await startDevServer({ ui: false, dbFile: this.dbFile, port: this.port, log: tlog });
    return Date.now() - t0;
  }

  /** Synchronous last resort (SIGINT/SIGTERM of the drill): SIGKILL every process it started. */
  killAllSync = (): void => {
    const pids = [...this.workers.map((w) => -w.child.pid!), this.s3 ? -this.s3.pid : 0, this.temporal?.process.pid ?? 0];
    for (const w of this.workers) w.expectedExit = true;
    for (const pid of pids.filter(Boolean)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
  };

  async stop(): Promise<void> {
    for (const w of this.workers) {
      w.expectedExit = true;
      try {
        process.kill(-w.child.pid!, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    await Promise.all(this.workers.map((w) => w.exited));
    await this.client?.connection.close().catch(() => undefined);
    await Promise.allSettled([this.temporal?.stop(), this.s3?.stop()]);
  }
}

// ── Lineage runs and checks ────────────────────────────────────────────────────────────────────────────────────

interface RunOutcome {
  result?: LineageResult;
  error?: string;
  wallMs: number;
}

/** Waits for a lineage to close, tolerating a server that is down for a while; bounded by `timeoutMs`. */
async function awaitLineage(services: DrillServices, handle: LineageHandle, started: number, timeoutMs: number): Promise<RunOutcome> {
  const deadline = started + timeoutMs;
  let lastError = '';
  for (;;) {
    if (Date.now() > deadline) {
      await services.client.workflow.getHandle(handle.workflowId).terminate('drill timeout').catch(() => undefined);
      return { error: `lineage ${handle.workflowId} did not finish within ${timeoutMs / 1000} s${lastError ? ` (last error: ${lastError})` : ''}`, wallMs: Date.now() - started };
    }
    try {
      const d = await services.client.workflow.getHandle(handle.workflowId).describe();
      if (d.status.name !== 'RUNNING') {
        const wallMs = Date.now() - started;
        try {
          return { result: (await services.client.workflow.getHandle(handle.workflowId).result()) as LineageResult, wallMs };
        } catch (err) {
          return { error: `lineage ${d.status.name}: ${rootMessage(err)}`, wallMs };
        }
      }
    } catch (err) {
      lastError = (err as Error).message;
    }
    await sleep(500);
  }
}

function rootMessage(err: unknown): string {
  let e = err as { message?: string; cause?: unknown } | undefined;
  const parts: string[] = [];
  while (e) {
    if (e.message) parts.push(e.message);
    e = e.cause && typeof e.cause === 'object' ? (e.cause as typeof e) : undefined;
  }
  return parts.join(': ');
}

/** Every stage's weights hashes, as `stage.label` → sha256. */
function weightsOf(result: LineageResult): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [stage, o] of Object.entries(result.stages)) for (const [label, sha] of Object.entries(o.weights ?? {})) out[`${stage}.${label}`] = sha;
  return out;
}

/** When a run happened is not a result. */
const TIMESTAMP_FIELDS = /\.(createdAt|startedAt|finishedAt)$/;

/** Leaf paths where two JSON values differ (timestamps aside). */
function jsonDiff(a: unknown, b: unknown, at = '', out: string[] = []): string[] {
  if (a && b && typeof a === 'object' && typeof b === 'object') {
    const keys = new Set([...Object.keys(a as object), ...Object.keys(b as object)]);
    for (const k of keys) jsonDiff((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], `${at}.${k}`, out);
  } else if (JSON.stringify(a) !== JSON.stringify(b) && !TIMESTAMP_FIELDS.test(at)) out.push(at || '(root)');
  return out;
}

/** Differences between a drill's result and the reference's (empty: nothing lost). */
async function compareWithReference(store: ArtifactStore, refStore: ArtifactStore, ref: LineageResult, got: LineageResult): Promise<string[]> {
  const problems: string[] = [];
  const a = weightsOf(ref);
  const b = weightsOf(got);
  const differing = Object.keys({ ...a, ...b }).filter((k) => a[k] !== b[k]);
  if (Object.keys(a).length === 0) problems.push('the reference run has no weights hashes');
  if (differing.length) problems.push(`weights differ from the reference: ${differing.join(', ')}`);
  if (ref.compare.sha256 !== got.compare.sha256) {
    const [x, y] = await Promise.all([refStore.getBlob(ref.compare), store.getBlob(got.compare)]);
    const fields = jsonDiff(JSON.parse(x.toString('utf8')), JSON.parse(y.toString('utf8')));
    if (fields.length) problems.push(`compare artifact differs from the reference in ${fields.length} field(s): ${fields.slice(0, 5).join(', ')}`);
  }
  return problems;
}

/** Whole-store audit (quarantine/ aside): every blob hashes to its name; every JSON manifest's referenced blobs exist and verify. */
export async function auditStore(store: ArtifactStore): Promise<{ blobs: number; manifests: number; problems: string[] }> {
  const problems: string[] = [];
  const entries = (await store.listEntries('')).filter((e) => !e.key.startsWith(QUARANTINE_PREFIX)); // set aside for inspection
  const blobs = entries.filter((e) => e.key.startsWith(BLOB_PREFIX));
  for (const e of blobs) {
    const sha = path.basename(e.key);
    if (!/^[0-9a-f]{64}$/.test(sha) || blobKey(sha) !== e.key) {
      problems.push(`stray object in the blob area: ${e.key}`);
      continue;
    }
    try {
      await store.getBlob({ uri: uriLike(store, e.key), sha256: sha, bytes: e.bytes, kind: 'audit' });
    } catch (err) {
      problems.push(`blob ${e.key}: ${(err as Error).message}`);
    }
  }
  const manifests = entries.filter((e) => !e.key.startsWith(BLOB_PREFIX));
  const checked = new Set<string>();
  for (const m of manifests) {
    if (!m.key.endsWith('.json')) {
      problems.push(`unexpected non-JSON object outside the blob area: ${m.key}`);
      continue;
    }
    let doc: unknown;
    try {
      doc = await store.getJson(m.key);
    } catch (err) {
      problems.push(`manifest ${m.key}: ${(err as Error).message}`);
      continue;
    }
    for (const ref of findArtifactRefs(doc)) {
      if (checked.has(`${ref.sha256}:${ref.bytes}`)) continue;
      checked.add(`${ref.sha256}:${ref.bytes}`);
      try {
        await store.getBlob(ref);
      } catch (err) {
        problems.push(`manifest ${m.key} → ${ref.sha256.slice(0, 12)} (${ref.kind}): ${(err as Error).message}`);
      }
    }
  }
  return { blobs: blobs.length, manifests: manifests.length, problems };
}

/** A ref `uri` for a key of this store, in the store's own URL form. */
function uriLike(store: ArtifactStore, key: string): string {
  return `${store.url.replace(/\/$/, '')}/${key}`;
}

// ── The drills ─────────────────────────────────────────────────────────────────────────────────────────────────

interface DrillContext {
  services: DrillServices;
  loaded: (storePrefix: string) => LoadedConfig;
  reference: { result: LineageResult; wallMs: number; storePrefix: string };
  random: () => number;
  opts: Required<Pick<DrillOptions, 'kills' | 'lineageTimeoutMs'>>;
  log: (line: string) => void;
  code: string;
  serial: number;
}

const LINEAGE_OPTIONS: LineageOptions = { heartbeatTimeout: '4s', retryInitialInterval: '1s', maxAttempts: 60, progressIntervalMs: 1000 };

async function start(ctx: DrillContext, storePrefix: string) {
  return startLineage(ctx.services.client, ctx.loaded(storePrefix), {
    queues: ctx.services.prefix,
    codeVersion: ctx.code,
    workflowId: `drill-${storePrefix}-${++ctx.serial}`,
    options: LINEAGE_OPTIONS,
  });
}

/** What the server says is running (works while every worker is dead). */
async function pendingActivities(ctx: DrillContext, workflowId: string): Promise<string> {
  try {
    const d = await ctx.services.client.workflow.getHandle(workflowId).describe();
    if (d.status.name !== 'RUNNING') return d.status.name.toLowerCase();
    const acts = (d.raw.pendingActivities ?? []).map((a) => `${a.activityType?.name}#${a.attempt}`);
    return acts.length ? acts.join('+') : 'workflow task';
  } catch (err) {
    return `describe failed: ${(err as Error).message.slice(0, 80)}`;
  }
}

async function isRunning(ctx: DrillContext, workflowId: string): Promise<boolean> {
  try {
    return (await ctx.services.client.workflow.getHandle(workflowId).describe()).status.name === 'RUNNING';
  } catch {
    return true;
  }
}

/** Checks a finished drill run against the reference and audits its store. */
async function judge(ctx: DrillContext, storePrefix: string, outcome: RunOutcome, notes: string[]): Promise<boolean> {
  if (!outcome.result) {
    notes.push(outcome.error ?? 'no result');
    return false;
  }
  const store = ctx.services.store(storePrefix);
  const problems = await compareWithReference(store, ctx.services.store(ctx.reference.storePrefix), ctx.reference.result, outcome.result);
  const audit = await auditStore(store);
  problems.push(...audit.problems.slice(0, 5).map((p) => (p.length > 240 ? `${p.slice(0, 240)}…` : p)));
  if (audit.problems.length > 5) problems.push(`… ${audit.problems.length - 5} more store problems`);
  notes.push(`store audit: ${audit.blobs} blobs, ${audit.manifests} manifests, ${audit.problems.length} problem(s)`);
  notes.push(...problems);
  if (ctx.services.unexpectedExits.length) notes.push(`workers that exited by themselves: ${ctx.services.unexpectedExits.splice(0).join('; ')}`);
  return problems.length === 0;
}

function row(ctx: DrillContext, drill: DrillName, injected: number, planned: number, survived: boolean, wallMs: number, notes: string[]): DrillRow {
  return { drill, fault: DRILL_TITLES[drill], injected, planned, survived: survived && injected === planned, wallMs, overhead: wallMs / ctx.reference.wallMs - 1, notes };
}

async function killDrill(ctx: DrillContext): Promise<DrillRow> {
  const storePrefix = `kill-${Date.now().toString(36)}`;
  const t0 = Date.now();
  const started = await start(ctx, storePrefix);
  const notes: string[] = [];
  // Random gaps averaging half the reference run's share per kill: all N kills land while the lineage runs.
  const window = Math.max(1000, ctx.reference.wallMs / (ctx.opts.kills + 1));
  let injected = 0;
  const restarts: number[] = [];
  try {
    for (let i = 0; i < ctx.opts.kills; i++) {
      await sleep(300 + ctx.random() * window);
      if (!(await isRunning(ctx, started.workflowId))) {
        notes.push(`the lineage finished after ${injected} of ${ctx.opts.kills} kills`);
        break;
      }
      const role = ctx.services.roles[Math.floor(ctx.random() * ctx.services.roles.length)];
      const during = await pendingActivities(ctx, started.workflowId);
      const at = ((Date.now() - t0) / 1000).toFixed(1);
      const { restartMs } = await ctx.services.killWorker(role);
      injected++;
      restarts.push(restartMs);
      ctx.log(`  kill ${injected}/${ctx.opts.kills} at ${at} s: ${role} worker during ${during}; replacement polling after ${(restartMs / 1000).toFixed(1)} s`);
    }
  } catch (err) {
    notes.push(`kill ${injected + 1}: ${(err as Error).message}`);
  }
  const outcome = await awaitLineage(ctx.services, started.handle, t0, ctx.opts.lineageTimeoutMs);
  if (restarts.length) notes.push(`worker restart ${(restarts.reduce((a, b) => a + b, 0) / restarts.length / 1000).toFixed(1)} s on average`);
  const ok = await judge(ctx, storePrefix, outcome, notes);
  return row(ctx, 'kill', injected, ctx.opts.kills, ok, outcome.wallMs, notes);
}

/** Activities of the cpu queue (light: validation, cache lookups, model import, compare, report). */
const CPU_ACTIVITIES = ['validateConfig', 'lookupStage', 'importModel', 'compareStage', 'reportStage'];
/** temporal.api.enums.v1.PendingActivityState.PENDING_ACTIVITY_STATE_STARTED: a worker has the task. */
const ACTIVITY_STARTED = 2;

/** SIGKILLs the worker serving the cpu queue while one of its activities runs (not just scheduled). */
async function cpuDrill(ctx: DrillContext): Promise<DrillRow> {
  const storePrefix = `cpu-${Date.now().toString(36)}`;
  const t0 = Date.now();
  const started = await start(ctx, storePrefix);
  const notes: string[] = [];
  const role = ctx.services.roles.find((r) => r.split(',').includes('cpu'))!;
  let injected = 0;
  try {
    const deadline = Date.now() + ctx.opts.lineageTimeoutMs;
    // Skip a seeded number of cpu activities first, so the victim is not always the first lookup.
    let skip = Math.floor(ctx.random() * 4);
    let last = '';
    for (;;) {
      if (Date.now() > deadline || !(await isRunning(ctx, started.workflowId))) throw new Error('no running cpu-queue activity was seen');
      const d = await ctx.services.client.workflow.getHandle(started.workflowId).describe().catch(() => undefined);
      const running = (d?.raw.pendingActivities ?? []).find((a) => CPU_ACTIVITIES.includes(a.activityType?.name ?? '') && Number(a.state) === ACTIVITY_STARTED);
      const id = running ? `${running.activityId}` : '';
      if (running && id !== last) {
        last = id;
        if (skip-- <= 0) {
          await ctx.services.killWorker(role);
          injected = 1;
          const what = `${running.activityType?.name}#${running.attempt}`;
          ctx.log(`  ${role} worker SIGKILLed at ${((Date.now() - t0) / 1000).toFixed(1)} s during ${what}`);
          notes.push(`killed during ${what}`);
          break;
        }
      }
      await sleep(50);
    }
  } catch (err) {
    notes.push(`injecting: ${(err as Error).message}`);
  }
  const outcome = await awaitLineage(ctx.services, started.handle, t0, ctx.opts.lineageTimeoutMs);
  const ok = await judge(ctx, storePrefix, outcome, notes);
  return row(ctx, 'cpu', injected, 1, ok, outcome.wallMs, notes);
}

async function s3Drill(ctx: DrillContext): Promise<DrillRow> {
  const storePrefix = `s3-${Date.now().toString(36)}`;
  const store = ctx.services.store(storePrefix);
  const t0 = Date.now();
  const started = await start(ctx, storePrefix);
  const notes: string[] = [];
  let injected = 0;
  try {
    // Kill right after a checkpoint manifest lands: the next checkpoint upload starts while the server is down.
    const deadline = Date.now() + ctx.opts.lineageTimeoutMs;
    let seen = -1;
    for (;;) {
      if (Date.now() > deadline) throw new Error('no training checkpoint appeared in the store');
      const n = (await store.list('stages/')).filter((k) => /\/checkpoints\/step-\d+\.json$/.test(k)).length;
      if (seen >= 0 && n > seen && ctx.random() < 0.5) break;
      if (seen < 0 || n > seen) seen = n;
      await sleep(50);
    }
    const during = await pendingActivities(ctx, started.workflowId);
    await ctx.services.s3.kill();
    injected = 1;
    const downMs = 3000;
    ctx.log(`  S3 SIGKILLed at ${((Date.now() - t0) / 1000).toFixed(1)} s during ${during}; down ${downMs / 1000} s`);
    await sleep(downMs);
    const restart0 = Date.now();
    await ctx.services.s3.restart();
    notes.push(`killed during ${during}; S3 back ${((Date.now() - restart0) / 1000).toFixed(1)} s after restart`);
  } catch (err) {
    notes.push(`injecting: ${(err as Error).message}`);
  }
  const outcome = await awaitLineage(ctx.services, started.handle, t0, ctx.opts.lineageTimeoutMs);
  const ok = await judge(ctx, storePrefix, outcome, notes);
  return row(ctx, 's3', injected, 1, ok, outcome.wallMs, notes);
}

/** Flips one byte of a blob a stage output references (in the reference store), then runs the lineage there again. */
async function corruptDrill(ctx: DrillContext): Promise<DrillRow> {
  const storePrefix = ctx.reference.storePrefix;
  const notes: string[] = [];
  // The victim: the weights file of a seeded random training stage's final checkpoint (named by its descriptor blob).
  const refStore = ctx.services.store(storePrefix);
  const trained = Object.entries(ctx.reference.result.stages).filter(([, out]) => out.outputs.checkpoint);
  if (trained.length === 0) throw new Error('the reference run has no stage with a checkpoint output');
  const [stage, out] = trained[Math.floor(ctx.random() * trained.length)];
  const descriptor = JSON.parse((await refStore.getBlob(out.outputs.checkpoint)).toString('utf8')) as CheckpointDescriptor;
  const weights: ArtifactRef | undefined = descriptor.files?.[MODEL_FILE];
  if (!weights) throw new Error(`stage ${stage}: its checkpoint descriptor names no ${MODEL_FILE}`);
  const victim = { ...weights, kind: MODEL_FILE, stage };
  const key = `${storePrefix}/${blobKey(victim.sha256)}`;
  const s3 = ctx.services.s3Client();
  let injected = 0;
  try {
    const body = Buffer.from(await (await s3.send(new GetObjectCommand({ Bucket: ctx.services.s3.bucket, Key: key }))).Body!.transformToByteArray());
    const offset = Math.floor(ctx.random() * body.length);
    body[offset] ^= 0xff;
    await s3.send(new PutObjectCommand({ Bucket: ctx.services.s3.bucket, Key: key, Body: body }));
    injected = 1;
    ctx.log(`  flipped byte ${offset} of ${victim.kind} blob ${victim.sha256.slice(0, 12)} (${victim.bytes} B) of stage ${victim.stage}`);
    notes.push(`flipped byte ${offset} of the ${victim.kind} blob of ${victim.stage}`);
  } finally {
    s3.destroy();
  }
  const t0 = Date.now();
  const started = await start(ctx, storePrefix);
  const outcome = await awaitLineage(ctx.services, started.handle, t0, ctx.opts.lineageTimeoutMs);
  if (outcome.result) {
    const recomputed = Object.entries(outcome.result.statuses).filter(([, s]) => s === 'done').map(([n]) => n);
    notes.push(recomputed.length ? `recomputed: ${recomputed.join(', ')}` : 'every stage reused (cached); nothing recomputed');
  }
  const ok = await judge(ctx, storePrefix, outcome, notes);
  return row(ctx, 'corrupt', injected, 1, ok, outcome.wallMs, notes);
}

async function temporalDrill(ctx: DrillContext): Promise<DrillRow> {
  const storePrefix = `temporal-${Date.now().toString(36)}`;
  const t0 = Date.now();
  const started = await start(ctx, storePrefix);
  const notes: string[] = [];
  let injected = 0;
  try {
    await sleep((0.2 + 0.5 * ctx.random()) * ctx.reference.wallMs);
    if (!(await isRunning(ctx, started.workflowId))) throw new Error('the lineage finished before the restart');
    const during = await pendingActivities(ctx, started.workflowId);
    const upMs = await ctx.services.restartTemporal(2000);
    injected = 1;
    ctx.log(`  Temporal restarted at ${((Date.now() - t0) / 1000).toFixed(1)} s during ${during}; healthy ${(upMs / 1000).toFixed(1)} s after start`);
    notes.push(`restarted during ${during}`);
  } catch (err) {
    notes.push(`injecting: ${(err as Error).message}`);
  }
  const outcome = await awaitLineage(ctx.services, started.handle, t0, ctx.opts.lineageTimeoutMs);
  const ok = await judge(ctx, storePrefix, outcome, notes);
  return row(ctx, 'temporal', injected, 1, ok, outcome.wallMs, notes);
}

const RUNNERS: Record<DrillName, (ctx: DrillContext) => Promise<DrillRow>> = { kill: killDrill, cpu: cpuDrill, s3: s3Drill, corrupt: corruptDrill, temporal: temporalDrill };

/** Starts the services, runs the reference lineage, then each drill; always stops what it started. */
export async function runDrills(options: DrillOptions = {}): Promise<DrillReport> {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const backend = options.backend ?? 'cpu';
  const seed = options.seed ?? 1;
  const drills = options.drills ?? DRILLS;
  const configFile = options.config ?? path.join(projectRoot(), 'configs', 'tiny-test.yaml');
  const set = options.set ?? [];
  const workDir = options.workDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'plasticity-drill-'));
  fs.mkdirSync(workDir, { recursive: true });
  const loaded = (storePrefix: string) => loadConfig(configFile, { set: [`backend=${backend}`, ...set, `store=s3://plasticity-drill/${storePrefix}`] });
  loaded('check'); // a bad config or flag fails here, before any service starts
  const prefix = `drill-${seed}-${process.pid}`;
  const services = new DrillServices(workDir, prefix, ['orchestrator,cpu', 'gpu'], log, options.workerStartTimeoutMs ?? 120_000);
  const lineageTimeoutMs = options.lineageTimeoutMs ?? 10 * 60_000;
  const rows: DrillRow[] = [];
  const onSignal = (signal: NodeJS.Signals) => {
    log(`drill: ${signal}: killing the services and workers it started`);
    services.killAllSync();
    process.exit(130);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    log(`drill: backend ${backend}, seed ${seed}, config ${path.relative(process.cwd(), configFile)}${set.length ? ` --set ${set.join(' ')}` : ''}, logs in ${workDir}`);
    await services.start();
    const ctx: DrillContext = {
      services, loaded, random: seededRandom(seed), log, code: `drill+${codeVersion()}`, serial: 0,
      opts: { kills: options.kills ?? 20, lineageTimeoutMs },
      reference: { result: undefined as unknown as LineageResult, wallMs: 0, storePrefix: `reference-${Date.now().toString(36)}` },
    };
    log('reference: an unbroken run');
    const t0 = Date.now();
    const refStarted = await start(ctx, ctx.reference.storePrefix);
    const ref = await awaitLineage(services, refStarted.handle, t0, lineageTimeoutMs);
    if (!ref.result) throw new Error(`the reference run failed, so no drill can be judged: ${ref.error}`);
    ctx.reference.result = ref.result;
    ctx.reference.wallMs = ref.wallMs;
    log(`reference: ${(ref.wallMs / 1000).toFixed(1)} s, ${Object.keys(weightsOf(ref.result)).length} weights hashes`);
    for (const name of drills) {
      log(`drill ${name}: ${DRILL_TITLES[name]}`);
      let r: DrillRow;
      try {
        r = await RUNNERS[name](ctx);
      } catch (err) {
        r = { drill: name, fault: DRILL_TITLES[name], injected: 0, planned: 1, survived: false, wallMs: 0, overhead: 0, notes: [`drill error: ${(err as Error).stack ?? err}`] };
      }
      rows.push(r);
      log(`drill ${name}: ${r.survived ? 'survived' : 'FAILED'} in ${(r.wallMs / 1000).toFixed(1)} s; ${r.notes.join('; ')}`);
    }
    return { backend, seed, referenceMs: ctx.reference.wallMs, rows, load: os.loadavg(), ok: rows.every((r) => r.survived) };
  } finally {
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
    await services.stop();
    if (!options.keepWorkDir && !options.workDir) fs.rmSync(workDir, { recursive: true, force: true });
  }
}

/** The table printed by `npm run drill`. */
export function formatReport(report: DrillReport): string {
  const lines = [
    `backend ${report.backend}, seed ${report.seed}, reference run ${(report.referenceMs / 1000).toFixed(1)} s, load ${report.load.map((l) => l.toFixed(2)).join(' ')}`,
    '',
    '| fault | injected | survived | wall s | overhead vs reference | notes |',
    '| --- | --- | --- | --- | --- | --- |',
  ];
  for (const r of report.rows) {
    lines.push(
      `| ${r.fault} | ${r.injected}/${r.planned} | ${r.survived ? 'yes' : 'NO'} | ${(r.wallMs / 1000).toFixed(1)} | ${r.wallMs ? `${r.overhead >= 0 ? '+' : ''}${(100 * r.overhead).toFixed(0)} %` : '–'} | ${r.notes.join('; ').replace(/\|/g, '/').replace(/\n/g, ' ')} |`,
    );
  }
  lines.push('', report.ok ? 'all drills survived' : `${report.rows.filter((r) => !r.survived).length} drill(s) FAILED`);
  return lines.join('\n');
}
