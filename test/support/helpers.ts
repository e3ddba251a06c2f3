// Shared pieces of the lineage tests: the harness's services (required, never skipped), a client and a native
// connection, a workflow bundle built once per process, in-process workers on unique task queues, and store access.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { after, before } from 'node:test';
import type { Client } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, bundleWorkflowCode } from '@temporalio/worker';
import { loadConfig, type LoadedConfig } from '../../config/load';
import { openStore } from '../../store/open';
import type { ArtifactStore } from '../../store/artifact-store';
import { connectClient, connectNative, connectionSettings, type ConnectionSettings } from '../../temporal/connection';
import { projectRoot } from '../../temporal/project-root';
import { startWorkers, WORKFLOWS_PATH, type RunningWorkers, type RunWorkersOptions } from '../../workers/run-worker';
import type { QueueRole } from '../../contract/lineage';

let runtimeInstalled = false;
/** Temporal's own log at WARN (call before creating any worker or connection). */
export function quietRuntime(): void {
  if (runtimeInstalled) return;
  Runtime.install({ logger: new DefaultLogger('WARN') });
  runtimeInstalled = true;
}

function required(name: string, why: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: ${why} (run the tests through the harness: node dist/test/harness.js <file filter>)`);
  return value;
}

export function temporalSettings(): ConnectionSettings {
  const address = required('PLASTICITY_TEST_TEMPORAL_ADDRESS', 'the lineage tests need the Temporal dev server the harness starts');
  return connectionSettings({ TEMPORAL_ADDRESS: address });
}

export function s3Settings(): { endpoint: string; bucket: string } {
  const why = 'the S3 lineage test needs the SeaweedFS the harness starts';
  required('AWS_ACCESS_KEY_ID', why);
  required('AWS_SECRET_ACCESS_KEY', why);
  return { endpoint: required('PLASTICITY_TEST_S3_ENDPOINT', why), bucket: required('PLASTICITY_TEST_S3_BUCKET', why) };
}

/** Opens a store; S3 URLs use the harness's SeaweedFS endpoint. */
export function testStoreOpener(): (spec: string) => ArtifactStore {
  return (spec: string) => (spec.startsWith('s3://') ? openStore(spec, { s3: { endpoint: s3Settings().endpoint } }) : openStore(spec));
}

export interface TemporalContext {
  client: Client;
  connection: NativeConnection;
  close(): Promise<void>;
}

export async function connectTemporal(): Promise<TemporalContext> {
  quietRuntime();
  const settings = temporalSettings();
  const connection = await connectNative(settings);
  const client = await connectClient(settings);
  return {
    client,
    connection,
    close: async () => {
      await client.connection.close();
      await connection.close();
    },
  };
}

let bundle: Promise<{ code: string }> | undefined;
/** The compiled workflows bundled once per test process. */
export function workflowBundle(): Promise<{ code: string }> {
  quietRuntime();
  bundle ??= bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, logger: new DefaultLogger('WARN') }).then((b) => ({ code: b.code }));
  return bundle;
}

export function uniquePrefix(label: string): string {
  return `t-${label}-${randomBytes(4).toString('hex')}`;
}

/** In-process workers on `prefix`'s queues (default all three), with the harness's S3 endpoint for s3:// stores. */
export async function testWorkers(
  ctx: TemporalContext,
  prefix: string,
  opts: { queues?: QueueRole[] } & Partial<RunWorkersOptions> = {},
): Promise<RunningWorkers> {
  return startWorkers({
    connection: ctx.connection,
    taskQueuePrefix: prefix,
    workflowBundle: await workflowBundle(),
    activityDeps: { openStore: testStoreOpener() },
    handleSignals: false,
    shutdownGraceTime: '20s',
    ...opts,
  });
}

/**
 * For a test file whose tests share one connection and one set of workers on a unique queue prefix: registers the
 * file's before/after hooks and returns live accessors.
 */
export function useTestWorkers(label: string): { prefix: string; ctx(): TemporalContext; workers(): RunningWorkers } {
  const prefix = uniquePrefix(label);
  let ctx: TemporalContext | undefined;
  let workers: RunningWorkers | undefined;
  before(async () => {
    ctx = await connectTemporal();
    workers = await testWorkers(ctx, prefix);
  });
  after(async () => {
    await workers?.shutdown();
    await ctx?.close();
  });
  const need = <T>(v: T | undefined, what: string): T => {
    if (v === undefined) throw new Error(`useTestWorkers(${label}): ${what} is not set up (before hook failed?)`);
    return v;
  };
  return { prefix, ctx: () => need(ctx, 'the connection'), workers: () => need(workers, 'the workers') };
}

export function tmpDir(label: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `plasticity-${label}-`));
}

export const TINY_CONFIG = path.join(projectRoot(), 'configs', 'tiny-test.yaml');

/** configs/tiny-test.yaml with a store and extra overrides. */
export function tinyConfig(store: string, set: string[] = []): LoadedConfig {
  return loadConfig(TINY_CONFIG, { set: [`store=${store}`, ...set] });
}

/** Polls `check` every `everyMs` until it returns a value (not undefined) or `timeoutMs` passes. */
export async function waitFor<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 120_000, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
