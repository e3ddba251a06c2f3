// Runs `temporal server start-dev` as a child process: free ports, persistent SQLite state,
// plasticity's search attributes registered, readiness polling and a clean stop().
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { Connection } from '@temporalio/client';
import { encodeSearchAttributeIndexedValueType } from '@temporalio/common/lib/search-attributes';
import { findTemporal } from './binary';
import { parseAddress } from './connection';
import { projectRoot } from './project-root';
import { searchAttributeArgs, searchAttributeKeys, type AnySearchAttributeKey } from './search-attributes';

export interface DevServerOptions {
  /** gRPC port (default: a free port). */
  port?: number;
  /** Web UI port (default: port + 1000 when `port` is given, else a free port). */
  uiPort?: number;
  /** Serve the Web UI (default true); false passes --headless. */
  ui?: boolean;
  /** SQLite file (default: <stateDir>/temporal.db). */
  dbFile?: string;
  /** State folder (default: <project>/.plasticity). */
  stateDir?: string;
  /** Receives the server's output and the manager's messages (default: messages only, to stderr). */
  log?: NodeJS.WritableStream;
  /** temporal binary (default: findTemporal()). */
  binary?: string;
  /** Search attributes to register (default: all plasticity keys). */
  searchAttributes?: readonly AnySearchAttributeKey[];
  /** How long to wait for the server to become healthy (default 90 s). */
  readyTimeoutMs?: number;
  /** How long stop() waits after SIGTERM before SIGKILL (default 10 s). */
  stopGraceMs?: number;
}

export interface DevServer {
  /** host:port of the gRPC frontend. */
  address: string;
  /** Web UI base URL; undefined when headless. */
  uiUrl?: string;
  namespace: string;
  dbFile: string;
  process: ChildProcess;
  /** Milliseconds from spawn to healthy. */
  startupMs: number;
  /** SIGTERM, then SIGKILL after the grace period; resolves once the process has exited. Idempotent. */
  stop(): Promise<void>;
}

const NAMESPACE = 'default';
const HOST = '127.0.0.1';
const TAIL_LINES = 30;
const PORT_RETRIES = 3;

/** Where `run` and `plasticity server` keep the dev server's state: PLASTICITY_STATE_DIR, else <project>/.plasticity. */
export function defaultStateDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.PLASTICITY_STATE_DIR?.trim() || path.join(projectRoot(), '.plasticity');
}

export async function startDevServer(options: DevServerOptions = {}): Promise<DevServer> {
  const log = options.log;
  const say = (message: string) => (log ?? process.stderr).write(`[temporal] ${message}\n`);
  const binary = options.binary ?? (await findTemporal({ log: say }));
  const dbFile = path.resolve(options.dbFile ?? path.join(options.stateDir ?? defaultStateDir(), 'temporal.db'));
  fs.mkdirSync(path.dirname(dbFile), { recursive: true });
  const ui = options.ui ?? true;
  const keys = options.searchAttributes ?? searchAttributeKeys;

  for (let attempt = 1; ; attempt++) {
    const port = options.port ?? (await freePort());
    const uiPort = ui ? (options.uiPort ?? (options.port !== undefined ? options.port + 1000 : await freePort([port]))) : undefined;
    const address = `${HOST}:${port}`;
    if (await isServerListening(address)) throw new Error(`startDevServer: port ${port} on ${HOST} is already in use`);
    const args = [
      'server', 'start-dev',
      '--ip', HOST,
      '--port', String(port),
      ...(uiPort !== undefined ? ['--ui-port', String(uiPort)] : ['--headless']),
      '--db-filename', dbFile,
      '--namespace', NAMESPACE,
      '--log-level', 'warn',
      ...searchAttributeArgs(keys),
    ];
    say(`starting ${binary} ${args.join(' ')}`);
    const started = Date.now();
    const server = spawnServer(binary, args, log);
    const stop = stopper(server.child, options.stopGraceMs ?? 10_000);
    try {
      await waitUntilHealthy(address, server, options.readyTimeoutMs ?? 90_000);
      const connection = await Connection.connect({ address });
      try {
        await ensureSearchAttributes(connection, NAMESPACE, keys, say);
      } finally {
        await connection.close();
      }
    } catch (err) {
      await stop();
      const portClash = /address already in use/i.test(server.tail().join('\n'));
      const autoPorts = options.port === undefined && (options.uiPort === undefined || !ui);
      if (portClash && autoPorts && attempt < PORT_RETRIES) {
        say(`port clash on attempt ${attempt}; retrying with other ports`);
        continue;
      }
      throw err;
    }
    const startupMs = Date.now() - started;
    const uiUrl = uiPort !== undefined ? `http://${HOST}:${uiPort}` : undefined;
    say(`dev server healthy at ${address} after ${startupMs} ms${uiUrl ? `, UI ${uiUrl}` : ''}, state ${dbFile}`);
    return { address, uiUrl, namespace: NAMESPACE, dbFile, process: server.child, startupMs, stop };
  }
}

/** True when something accepts TCP connections at host:port within `timeoutMs`. */
export function isServerListening(address: string, timeoutMs = 1000): Promise<boolean> {
  const { host, port } = parseAddress(address, 'address');
  return new Promise((resolve) => {
    const socket = net.connect({ host: host.replace(/^\[|\]$/g, ''), port });
    const done = (listening: boolean) => {
      socket.destroy();
      resolve(listening);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** Registers the keys missing on the server; throws when one exists with another type. */
export async function ensureSearchAttributes(
  connection: Connection,
  namespace: string,
  keys: readonly AnySearchAttributeKey[] = searchAttributeKeys,
  say: (message: string) => void = () => {},
): Promise<void> {
  if (keys.length === 0) return;
  const { customAttributes } = await connection.operatorService.listSearchAttributes({ namespace });
  const missing: Record<string, number> = {};
  for (const key of keys) {
    const wanted = encodeSearchAttributeIndexedValueType(key.type)!;
    const existing = customAttributes[key.name];
    if (existing === undefined) missing[key.name] = wanted;
    else if (existing !== wanted) {
      throw new Error(`search attribute ${key.name} exists in namespace ${namespace} with another type (${existing}); expected ${key.type}`);
    }
  }
  if (Object.keys(missing).length === 0) return;
  say(`registering search attributes ${Object.keys(missing).join(', ')}`);
  await connection.operatorService.addSearchAttributes({ namespace, searchAttributes: missing });
}

interface SpawnedServer {
  child: ChildProcess;
  tail(): string[];
}

function spawnServer(binary: string, args: string[], log: NodeJS.WritableStream | undefined): SpawnedServer {
  // TEMPORAL_* client settings (address, TLS, API key) are meant for clients, not for the server.
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('TEMPORAL_')));
  // Own process group: a terminal Ctrl-C reaches the CLI (which checkpoints and stops the server), not the server first.
  const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'], env, detached: true });
  const lines: string[] = [];
  const collect = (chunk: Buffer) => {
    lines.push(...chunk.toString().split('\n').filter((line) => line.trim()));
    lines.splice(0, Math.max(0, lines.length - TAIL_LINES));
  };
  child.stderr!.on('data', collect);
  if (log) {
    child.stdout!.on('data', (chunk: Buffer) => log.write(chunk));
    child.stderr!.on('data', (chunk: Buffer) => log.write(chunk));
  } else {
    child.stdout!.resume();
  }
  child.on('error', (err) => lines.push(`spawn error: ${err.message}`));
  // Never leave an orphaned server behind when this process exits without calling stop().
  const onExit = () => child.kill('SIGTERM');
  process.once('exit', onExit);
  const forget = () => process.removeListener('exit', onExit);
  child.once('exit', forget);
  child.once('error', forget);
  return { child, tail: () => [...lines] };
}

async function waitUntilHealthy(address: string, server: SpawnedServer, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError = 'port not open yet';
  for (;;) {
    const { child } = server;
    if (child.pid === undefined) {
      await new Promise((resolve) => setImmediate(resolve)); // let the spawn error arrive
      throw new Error(`temporal dev server could not be started:\n${server.tail().join('\n')}`);
    }
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`temporal dev server exited (${child.exitCode ?? child.signalCode}) before becoming healthy at ${address}:\n${server.tail().join('\n')}`);
    }
    // A cheap TCP probe first; gRPC only once the port is open (a refused gRPC connect waits for its timeout).
    if (await isServerListening(address, 250)) {
      try {
        const connection = await Connection.connect({ address, connectTimeout: 2000 });
        try {
          await connection.workflowService.getSystemInfo({});
          await connection.workflowService.describeNamespace({ namespace: NAMESPACE });
          return;
        } finally {
          await connection.close();
        }
      } catch (err) {
        lastError = err instanceof Error ? err.message : String(err);
      }
    }
    if (Date.now() > deadline) {
      throw new Error(`temporal dev server at ${address} not healthy after ${timeoutMs} ms (last error: ${lastError}); last server output:\n${server.tail().join('\n')}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

function stopper(child: ChildProcess, graceMs: number): () => Promise<void> {
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
    child.once('error', () => resolve()); // spawn failure: there is no process to wait for
  });
  let stopping: Promise<void> | undefined;
  return () =>
    (stopping ??= (async () => {
      if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
        await exited;
        clearTimeout(timer);
      }
    })());
}

/** A port that was free a moment ago (bind to port 0, read it, release it). */
function freePort(avoid: number[] = []): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, HOST, () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => (avoid.includes(port) ? freePort(avoid).then(resolve, reject) : resolve(port)));
    });
  });
}
