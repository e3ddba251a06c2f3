// Worker-thread side of offthread.ts: requires the registered job module, runs it with handlers that post
// messages back, and turns a cancel message (or the shared flag) into the job's abort signal.
import { parentPort, workerData } from 'node:worker_threads';
import { activeBackend, tf } from '../model/engine';
import type { ThreadJob, ThreadJobHandlers, WorkerData } from './offthread';

/**
 * tfjs-node (TF 2.21 C library) segfaults at process exit when a worker thread initialised the 'tensorflow'
 * backend but never ran an op (e.g. a job that failed on its input right after initBackend). One tiny op avoids it.
 */
function settleNativeBackend(): void {
  let name: string;
  try {
    name = activeBackend();
  } catch {
    return; // this thread never initialised a backend
  }
  if (name === 'tensorflow') tf.tidy(() => tf.add(tf.scalar(0), tf.scalar(0)).dataSync());
}

async function main(): Promise<void> {
  const port = parentPort;
  if (!port) throw new Error('thread-entry: must run inside a worker thread');
  const { entry, input, cancelFlag } = workerData as WorkerData;
  const flag = new Int32Array(cancelFlag);
  port.on('message', (msg: { type?: string }) => {
    if (msg?.type === 'cancel') Atomics.store(flag, 0, 1);
  });
  const handlers: ThreadJobHandlers = {
    onProgress: (payload) => port.postMessage({ type: 'progress', payload }),
    onCheckpoint: ({ step, dir }) => port.postMessage({ type: 'checkpoint', step, dir }),
    log: (message) => port.postMessage({ type: 'log', message }),
    signal: { get aborted() { return Atomics.load(flag, 0) === 1; } },
  };
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const mod = require(entry.modulePath) as Record<string, unknown>;
    const fn = mod[entry.exportName] as ThreadJob | undefined;
    if (typeof fn !== 'function') throw new Error(`job module ${entry.modulePath} has no function export '${entry.exportName}'`);
    const result = await fn(input, handlers);
    port.postMessage({ type: 'done', result });
  } catch (e) {
    const err = e as Error;
    port.postMessage({ type: 'error', name: err?.name, message: err?.message ?? String(e), stack: err?.stack });
  } finally {
    settleNativeBackend();
    port.unref(); // lets the thread exit once the job is done
  }
}

void main();
