// Worker-thread side of offthread.ts: requires the registered job module, runs its export with handlers that post
// messages back, and turns a cancel message (or the shared flag) into the job's abort signal.
import { parentPort, workerData } from 'node:worker_threads';
import type { Job, JobHandlers, WorkerData } from './offthread';

async function main(): Promise<void> {
  const port = parentPort;
  if (!port) throw new Error('thread-entry: must run inside a worker thread');
  const { entry, input, cancelFlag } = workerData as WorkerData;
  const flag = new Int32Array(cancelFlag);
  port.on('message', (msg: { type?: string }) => {
    if (msg?.type === 'cancel') Atomics.store(flag, 0, 1);
  });
  const handlers: JobHandlers = {
    onProgress: (payload) => port.postMessage({ type: 'progress', payload }),
    onCheckpoint: ({ step, dir }) => port.postMessage({ type: 'checkpoint', step, dir }),
    log: (message) => port.postMessage({ type: 'log', message }),
    signal: { get aborted() { return Atomics.load(flag, 0) === 1; } },
  };
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const mod = require(entry.modulePath) as Record<string, unknown>;
    const fn = mod[entry.exportName] as Job | undefined;
    if (typeof fn !== 'function') throw new Error(`job module ${entry.modulePath} has no function export '${entry.exportName}'`);
    const result = await fn(input, handlers);
    port.postMessage({ type: 'done', result });
  } catch (e) {
    const err = e as Error;
    const failureType = (err as { failureType?: unknown } | undefined)?.failureType; // deterministic: never retried
    port.postMessage({ type: 'error', name: err?.name, message: err?.message ?? String(e), stack: err?.stack, ...(typeof failureType === 'string' ? { failureType } : {}) });
  } finally {
    port.unref(); // lets the thread exit once the job is done
  }
}

void main();
