// Workers for the lineage's three task queues, in one process or split across processes:
//   orchestrator: workflows only (workflowsPath = compiled workflows/index.js, or a prebuilt bundle)
//   gpu:          train/trace activities, one at a time (maxConcurrentActivityTaskExecutions: 1)
//   cpu:          validation, cache lookups, model import, compare
// Shutdown (SIGTERM/SIGINT, or `shutdown()`): the workers stop polling; the running ML job is asked to stop at its
// next step boundary and commit a checkpoint; the activity then fails as 'WorkerShutdown' (retryable), so another
// worker resumes it from that checkpoint. shutdownGraceTime bounds the wait (default 2 min).
import * as os from 'node:os';
import * as path from 'node:path';
import { DefaultLogger, NativeConnection, Runtime, Worker, type LogLevel, type WorkerOptions } from '@temporalio/worker';
import type { Duration } from '@temporalio/common';
import { createActivities, type ActivityDeps } from '../activities';
import { removeStaleWorkDirs } from '../activities/train';
import { QUEUE_ROLES, taskQueues, DEFAULT_QUEUE_PREFIX, type QueueRole } from '../contract/lineage';
import { connectNative } from '../temporal/connection';

export interface RunWorkersOptions {
  /** Which queues this process serves (default all three). */
  queues?: readonly QueueRole[];
  /** Task-queue prefix (default 'plasticity', or PLASTICITY_TASK_QUEUE_PREFIX). */
  taskQueuePrefix?: string;
  /** Default: connectNative() from TEMPORAL_* env vars; a given connection is not closed by the workers. */
  connection?: NativeConnection;
  namespace?: string;
  /** A prebuilt workflow bundle (e.g. from bundleWorkflowCode); default: bundle dist/workflows/index.js at start. */
  workflowBundle?: WorkerOptions['workflowBundle'];
  /** Activity dependencies (store factory). */
  activityDeps?: ActivityDeps;
  /** How long a shutdown waits for the running activity to checkpoint (default '2m'). */
  shutdownGraceTime?: Duration;
  /** Heavy activities at a time on the gpu queue (default 1). */
  gpuConcurrency?: number;
  /** Activities at a time on the cpu queue (default cores − 1, at least 2). */
  cpuConcurrency?: number;
  /** Upper bound between heartbeats sent to the server; also bounds how late a cancel is noticed (default '2s'). */
  heartbeatThrottle?: Duration;
  /** Handle SIGTERM/SIGINT (default true). */
  handleSignals?: boolean;
  log?: (message: string) => void;
}

export interface RunningWorkers {
  queues: Record<QueueRole, string | undefined>;
  workers: Worker[];
  /** Resolves when every worker has stopped (rejects if one failed). */
  done: Promise<void>;
  /** Graceful stop: running jobs checkpoint, workers drain; resolves when stopped. */
  shutdown(): Promise<void>;
}

export const WORKFLOWS_PATH = path.join(__dirname, '..', 'workflows', 'index.js');

/** Creates and starts the workers; returns once they poll. */
export async function startWorkers(options: RunWorkersOptions = {}): Promise<RunningWorkers> {
  const roles = options.queues ?? QUEUE_ROLES;
  for (const r of roles) if (!QUEUE_ROLES.includes(r)) throw new Error(`worker queues: unknown queue "${r}"; expected ${QUEUE_ROLES.join(', ')}`);
  if (roles.length === 0) throw new Error('worker queues: expected at least one of orchestrator, gpu, cpu');
  const names = taskQueues(options.taskQueuePrefix ?? (process.env.PLASTICITY_TASK_QUEUE_PREFIX || DEFAULT_QUEUE_PREFIX));
  const log = options.log ?? (() => {});
  const ownConnection = !options.connection;
  const connection = options.connection ?? (await connectNative());
  const stale = await removeStaleWorkDirs().catch(() => []);
  if (stale.length) log(`workers: removed ${stale.length} work folder(s) of dead processes`);
  const stopping = new AbortController();
  const activities = createActivities({ ...options.activityDeps, shutdownSignal: stopping.signal });
  const common = {
    connection,
    ...(options.namespace ? { namespace: options.namespace } : {}),
    shutdownGraceTime: options.shutdownGraceTime ?? '2m',
    maxHeartbeatThrottleInterval: options.heartbeatThrottle ?? '2s',
    defaultHeartbeatThrottleInterval: options.heartbeatThrottle ?? '2s',
  };

  const workers: Worker[] = [];
  try {
    if (roles.includes('orchestrator')) {
      workers.push(
        await Worker.create({
          ...common,
          taskQueue: names.orchestrator,
          ...(options.workflowBundle ? { workflowBundle: options.workflowBundle } : { workflowsPath: WORKFLOWS_PATH }),
        }),
      );
    }
    if (roles.includes('gpu')) {
      workers.push(await Worker.create({ ...common, taskQueue: names.gpu, activities, maxConcurrentActivityTaskExecutions: options.gpuConcurrency ?? 1 }));
    }
    if (roles.includes('cpu')) {
      const cpus = options.cpuConcurrency ?? Math.max(2, os.cpus().length - 1);
      workers.push(await Worker.create({ ...common, taskQueue: names.cpu, activities, maxConcurrentActivityTaskExecutions: cpus }));
    }
  } catch (err) {
    if (ownConnection) await connection.close();
    throw err;
  }

  const shutdown = async (): Promise<void> => {
    if (!stopping.signal.aborted) {
      log('workers: shutting down (running jobs checkpoint first)');
      stopping.abort();
      for (const w of workers) if (w.getState() === 'RUNNING') w.shutdown();
    }
    await done.catch(() => undefined);
  };
  const onSignal = (signal: NodeJS.Signals) => {
    log(`workers: ${signal} received`);
    void shutdown();
  };
  const signals: NodeJS.Signals[] = options.handleSignals === false ? [] : ['SIGTERM', 'SIGINT'];
  for (const s of signals) process.once(s, onSignal);

  const done = Promise.all(workers.map((w) => w.run())).then(
    () => undefined,
    async (err: unknown) => {
      stopping.abort();
      for (const w of workers) if (w.getState() === 'RUNNING') w.shutdown();
      throw err;
    },
  ).finally(async () => {
    for (const s of signals) process.removeListener(s, onSignal);
    if (ownConnection) await connection.close();
  });

  const queues = Object.fromEntries(QUEUE_ROLES.map((r) => [r, roles.includes(r) ? names[r] : undefined])) as Record<QueueRole, string | undefined>;
  log(`workers: polling ${roles.map((r) => names[r]).join(', ')}`);
  return { queues, workers, done, shutdown };
}

/** Starts the workers and resolves when they have stopped (after SIGTERM/SIGINT). */
export async function runWorkers(options: RunWorkersOptions = {}): Promise<void> {
  const running = await startWorkers(options);
  await running.done;
}

/** Temporal's runtime logs at `level` and above; call before the first connection or worker is made. */
export function installRuntimeLogger(level: LogLevel): void {
  Runtime.install({ logger: new DefaultLogger(level) });
}
