// The Temporal side of `plasticity run` / `resume`: which server, and whether this process also runs a worker.
//
// Server: TEMPORAL_ADDRESS when set (unreachable → exit 5); otherwise the default local address when something
// listens there (e.g. `plasticity server`); otherwise an embedded dev server started by this process (state under
// <project>/.plasticity, Web UI on, default ports), which stops when the command ends and no other command uses it
// (temporal/server-users.ts). --detach cannot use an embedded server (it would die with this process): exit 2.
//
// Worker: unless --no-worker or --detach, this process runs workers for all three queues when the server is
// local (embedded, or on a loopback address), so a lone `plasticity run` needs nothing else. Against a remote
// server the workers are expected elsewhere (`plasticity worker` on the cluster); a warning says when none polls.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Client } from '@temporalio/client';
import { DefaultLogger, Runtime, type NativeConnection } from '@temporalio/worker';
import { DEFAULT_QUEUE_PREFIX, type LineageQueues } from '../contract/lineage';
import { connectNative, describeConnectionSettings, parseAddress, type ConnectionSettings } from '../temporal/connection';
import { defaultStateDir, isServerListening, startDevServer, type DevServer } from '../temporal/dev-server';
import { otherServerUsers, registerServerUser } from '../temporal/server-users';
import { CliError, EXIT } from './errors';
import { cliConnectionSettings, connectCli, unreachable } from './temporal-access';

export interface SessionOptions {
  detach: boolean;
  /** false with --no-worker. */
  worker: boolean;
  /** Progress messages (stderr). */
  log: (message: string) => void;
}

export interface LineageSession {
  client: Client;
  settings: ConnectionSettings;
  /** Where the server came from. */
  server: 'configured' | 'local' | 'embedded';
  /**
   * Starts the in-process workers for the queues of `prefix` when the rule above says so (else warns when no
   * worker polls the orchestrator queue). Call once the queues are known.
   */
  provideWorker(prefix: string, queues: LineageQueues): Promise<void>;
  /** Where session messages (and the in-process worker's warnings) go from now on, e.g. into the live view. */
  setLog(log: (message: string) => void): void;
  /** True once this process runs the workers. */
  readonly inProcessWorker: boolean;
  /** Why the in-process workers stopped on their own (a fatal worker error), if they did. */
  readonly workerFailure: string | undefined;
  /** True when provideWorker will run the workers in this process (local server, no --no-worker, no --detach). */
  readonly workerHere: boolean;
  /**
   * Stops the in-process workers (running step checkpoints) and the embedded server. Idempotent. `interrupted`:
   * the command was stopped by Ctrl-C, which the embedded server (same process group) received too.
   */
  close(options?: { interrupted?: boolean }): Promise<void>;
}

export async function openSession(options: SessionOptions): Promise<LineageSession> {
  let target = options.log;
  const log = (message: string) => target(message);
  const configured = !!process.env.TEMPORAL_ADDRESS?.trim();
  let settings = cliConnectionSettings();
  let embedded: DevServer | undefined;
  let server: LineageSession['server'] = 'configured';
  let unregister: () => void = () => {};
  if (!configured) {
    server = 'local';
    // Before looking: a server another command embedded then waits for this one before it stops.
    unregister = registerServerUser(defaultStateDir());
    if (!(await isServerListening(settings.address, 1000))) {
      if (options.detach) {
        unregister();
        throw new CliError(
          `--detach needs a Temporal server that outlives this command, and none listens at ${settings.address}: ` +
            'start one with `plasticity server` (another terminal) or set TEMPORAL_ADDRESS; or run without --detach',
          EXIT.usage,
        );
      }
      const { port } = parseAddress(settings.address, 'default');
      log(`no Temporal server at ${settings.address}: starting an embedded dev server (state in ${defaultStateDir()}); it stops when this command ends`);
      embedded = await startDevServer({ port, uiPort: port + 1000, ui: true, stateDir: defaultStateDir(), log: quietLog(log) });
      settings = { ...settings, address: embedded.address, uiUrl: embedded.uiUrl };
      server = 'embedded';
    }
  }

  let client: Client;
  try {
    client = await connectCli(settings);
  } catch (err) {
    unregister();
    await embedded?.stop();
    throw err;
  }

  const local = server === 'embedded' || isLoopback(parseAddress(settings.address, 'TEMPORAL_ADDRESS').host);
  let workers: { shutdown(): Promise<void>; done: Promise<void> } | undefined;
  let native: NativeConnection | undefined;
  let closing = false;
  let workerFailure: string | undefined;
  const close = onceWith(async (closeOptions: { interrupted?: boolean } = {}) => {
    closing = true;
    if (workers && embedded && closeOptions.interrupted && (await exitsWithin(embedded, 3000))) {
      // Ctrl-C in a terminal reaches the server child too; with the server gone the worker cannot report its last
      // checkpoint, so waiting for it only prints retries. The run resumes from its previous checkpoint later.
      log('the embedded server has stopped already; exiting without waiting for the worker');
      process.exit(typeof process.exitCode === 'number' ? process.exitCode : 130);
    }
    if (workers) {
      log('stopping the in-process worker');
      await workers.shutdown();
    }
    await native?.close().catch(() => undefined);
    await client.connection.close().catch(() => undefined);
    unregister();
    if (embedded) {
      await waitForOtherUsers(embedded, log);
      log('stopping the embedded Temporal dev server');
      await embedded.stop();
    }
  });

  const provideWorker = async (prefix: string, queues: LineageQueues): Promise<void> => {
    if (workers) return;
    if (options.worker && !options.detach && local) {
      installQuietRuntime(log);
      native = await connectNative(settings).catch((err: Error) => {
        throw unreachable(settings, err.message);
      });
      // Loaded lazily: the worker pulls in the activities (tfjs, store) only when this process runs one.
      const { startWorkers } = await import('../workers/run-worker');
      workers = await startWorkers({ connection: native, taskQueuePrefix: prefix, handleSignals: false });
      workers.done.then(
        () => {
          if (!closing) workerFailure = 'the in-process worker stopped';
        },
        (err: unknown) => {
          if (!closing) workerFailure = `the in-process worker died: ${(err as Error)?.message ?? String(err)}`;
        },
      );
      log(`in-process worker on ${Object.values(queues).join(', ')} (--no-worker when \`plasticity worker\` runs elsewhere)`);
    } else if (!(await hasPollers(client, settings, queues.orchestrator))) {
      log(
        `note: no worker polls ${queues.orchestrator} at ${describeConnectionSettings(settings)} yet; the run waits until ` +
          `\`plasticity worker${prefix !== DEFAULT_QUEUE_PREFIX ? ` --queue-prefix ${prefix}` : ''}\` starts`,
      );
    }
  };

  return {
    client,
    settings,
    server,
    provideWorker,
    setLog(fn) {
      target = fn;
    },
    get inProcessWorker() {
      return !!workers;
    },
    get workerFailure() {
      return workerFailure;
    },
    workerHere: options.worker && !options.detach && local,
    close,
  };
}

/**
 * The SDK logs every worker event at INFO to stderr, which would tear the live view apart: keep warnings and errors,
 * one line each, and drop the expected "not polling for …" notices of role-specific workers.
 */
function installQuietRuntime(log: (message: string) => void): void {
  const logger = new DefaultLogger('WARN', (entry) => {
    if (/^No (activities|workflows|Nexus services) registered/.test(entry.message)) return;
    const meta = (entry.meta ?? {}) as { activityType?: string; attempt?: number; error?: unknown; taskQueue?: string };
    const what = meta.activityType ? ` (${meta.activityType}${meta.attempt ? `, attempt ${meta.attempt}` : ''})` : '';
    const error = meta.error instanceof Error ? `: ${meta.error.message.split('\n')[0]}` : '';
    log(`worker ${entry.level.toLowerCase()}: ${entry.message}${what}${error}`);
  });
  try {
    // Core's own (Rust) logs go to stderr unless forwarded: forward them, errors only.
    Runtime.install({ logger, telemetryOptions: { logging: { filter: { core: 'ERROR', other: 'ERROR' }, forward: {} } } });
  } catch {
    // already installed (a second session in this process): keep it
  }
}

/** Whether a worker polled the workflow task queue recently (the server keeps pollers for a few minutes). */
async function hasPollers(client: Client, settings: ConnectionSettings, taskQueue: string): Promise<boolean> {
  try {
    const r = await client.workflowService.describeTaskQueue({
      namespace: settings.namespace,
      taskQueue: { name: taskQueue }, // type unspecified = the workflow task queue
    });
    return (r.pollers?.length ?? 0) > 0;
  } catch {
    return true; // unknown: do not warn
  }
}

/** Keeps the embedded server up while other plasticity commands use it (a run in another terminal); Ctrl-C stops waiting. */
async function waitForOtherUsers(server: DevServer, log: (message: string) => void): Promise<void> {
  let stopNow = false;
  const onSignal = () => (stopNow = true);
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    let told = '';
    for (let others = otherServerUsers(defaultStateDir()); others.length > 0 && !stopNow; others = otherServerUsers(defaultStateDir())) {
      if (server.process.exitCode !== null || server.process.signalCode !== null) return;
      const now = others.join(', ');
      if (now !== told) {
        const who = others.length === 1 ? 'another plasticity command' : `${others.length} other plasticity commands`;
        log(`the embedded server is in use by ${who} (pid ${now}): it stops when they end (Ctrl-C to stop it now)`);
        told = now;
      }
      await sleep(500);
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

/** Whether the server process has exited, or does so within `ms`. */
async function exitsWithin(server: DevServer, ms: number): Promise<boolean> {
  const child = server.process;
  if (child.exitCode !== null || child.signalCode !== null) return true;
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '[::1]' || host.startsWith('127.');
}

/** The dev server's own output is noisy: keep the manager's lines ([temporal] …) except the binary and argv. */
function quietLog(log: (message: string) => void): NodeJS.WritableStream {
  const sink = {
    write(chunk: string | Buffer) {
      for (const line of chunk.toString().split('\n')) {
        if (line.startsWith('[temporal] ') && !/^\[temporal\] (using|starting) /.test(line)) log(line);
      }
      return true;
    },
  };
  return sink as unknown as NodeJS.WritableStream;
}

function onceWith<A>(fn: (arg?: A) => Promise<void>): (arg?: A) => Promise<void> {
  let p: Promise<void> | undefined;
  return (arg) => (p ??= fn(arg));
}
