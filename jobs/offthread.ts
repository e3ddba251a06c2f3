// Runs a job in a worker_threads Worker so the caller's event loop (timers, I/O, Temporal heartbeats) keeps running.
// A job is a module export `(input, handlers) => Promise<result>`; the module that defines it registers it by kind
// (`registerJob(kind, __filename, exportName)`), and the thread requires that module. Protocol, thread → caller:
//   {type:'progress', payload} {type:'checkpoint', step, dir} {type:'log', message} {type:'done', result} {type:'error', name, message, stack}
// caller → thread: {type:'cancel'} (stop at the next step boundary, checkpoint, resolve with status 'cancelled').
// The cancel flag is also a SharedArrayBuffer word the thread polls, so it takes effect even mid-step.
// terminate() is the hard stop.
import * as path from 'node:path';
import { Worker, isMainThread } from 'node:worker_threads';
import { setNativeEnvDefaults } from '../model/native-path';

export interface JobEntry {
  modulePath: string; // absolute path of the compiled module
  exportName: string;
}

/** What a job receives: in a worker thread each call posts a message to the caller. */
export interface JobHandlers<P = unknown> {
  onProgress(p: P): void;
  onCheckpoint(c: { step: number; dir: string }): void | Promise<void>;
  log(message: string): void;
  signal: { readonly aborted: boolean };
}
export type Job<I = unknown, R = unknown, P = unknown> = (input: I, handlers: JobHandlers<P>) => Promise<R>;

/** What the caller of an off-thread job passes: any of the handlers, and an AbortSignal that asks for a cancel. */
export type JobEvents<P = unknown> = Partial<Omit<JobHandlers<P>, 'signal'>> & { signal?: AbortSignal };

const registry = new Map<string, JobEntry>();

/** Registers (or replaces) the module export that runs jobs of `kind` in a worker thread; returns the kind. */
export function registerJob<K extends string>(kind: K, modulePath: string, exportName: string): K {
  if (!path.isAbsolute(modulePath)) throw new Error(`registerJob(${kind}): modulePath must be absolute, got ${modulePath}`);
  registry.set(kind, { modulePath, exportName });
  return kind;
}

export function jobEntry(kind: string): JobEntry {
  const e = registry.get(kind);
  if (!e) throw new Error(`job kind ${JSON.stringify(kind)} is not registered; known: ${[...registry.keys()].join(', ')}`);
  return e;
}

export interface JobHandle<R> {
  result: Promise<R>;
  /** Asks the job to stop at the next step boundary and checkpoint; `result` then resolves (status 'cancelled'). */
  cancel(): void;
  /** Hard stop: kills the thread; `result` rejects. */
  terminate(): Promise<void>;
  threadId: number;
}

export interface WorkerData {
  entry: JobEntry;
  input: unknown;
  cancelFlag: SharedArrayBuffer;
}

type FromThread =
  | { type: 'progress'; payload: unknown }
  | { type: 'checkpoint'; step: number; dir: string }
  | { type: 'log'; message: string }
  | { type: 'done'; result: unknown }
  | { type: 'error'; name?: string; message: string; stack?: string; failureType?: string };

export function startJob<R = unknown, P = unknown>(kind: string, input: unknown, events: JobEvents<P> = {}): JobHandle<R> {
  const entry = jobEntry(kind);
  // TF reads the C environment, which a worker thread's process.env does not change: set its defaults here.
  if (isMainThread) setNativeEnvDefaults();
  const cancelFlag = new SharedArrayBuffer(4);
  const worker = new Worker(path.join(__dirname, 'thread-entry.js'), { workerData: { entry, input, cancelFlag } satisfies WorkerData });
  const pending: Promise<unknown>[] = [];
  let settled = false;
  let doneReceived = false; // the job finished; the thread may exit while onCheckpoint callbacks still run
  let errorReceived = false;
  let terminated = false;
  const cancel = () => {
    Atomics.store(new Int32Array(cancelFlag), 0, 1);
    worker.postMessage({ type: 'cancel' });
  };
  const result = new Promise<R>((resolve, reject) => {
    const fail = (e: Error) => {
      if (settled) return;
      settled = true;
      events.signal?.removeEventListener('abort', cancel);
      reject(e);
    };
    /** A caller callback that throws or rejects fails the job and stops the thread. */
    const callbackFailed = (e: unknown) => {
      fail(e instanceof Error ? e : new Error(String(e)));
      void worker.terminate();
    };
    worker.on('message', (msg: FromThread) => {
      if (msg.type === 'progress' || msg.type === 'log') {
        try {
          if (msg.type === 'progress') events.onProgress?.(msg.payload as P);
          else events.log?.(msg.message);
        } catch (e) {
          callbackFailed(e);
        }
      } else if (msg.type === 'checkpoint') {
        const call = Promise.resolve().then(() => events.onCheckpoint?.({ step: msg.step, dir: msg.dir }));
        pending.push(call.catch(callbackFailed));
      } else if (msg.type === 'error') {
        errorReceived = true;
        const err = new Error(msg.message);
        if (msg.name) err.name = msg.name; // e.g. 'JobInputError' (bad input: do not retry)
        if (msg.stack) err.stack = msg.stack;
        if (msg.failureType) Object.assign(err, { failureType: msg.failureType }); // errors/deterministic.ts deterministicType
        void Promise.all(pending).then(() => fail(err)); // let checkpoint callbacks (uploads) finish first
      } else if (msg.type === 'done') {
        doneReceived = true;
        void Promise.all(pending).then(() => {
          if (settled) return;
          settled = true;
          events.signal?.removeEventListener('abort', cancel);
          resolve(msg.result as R);
        });
      }
    });
    worker.on('error', (e) => fail(e));
    worker.on('exit', (code) => {
      if (settled || doneReceived || errorReceived) return;
      if (terminated) fail(new Error(`${kind} job: terminated`));
      else setImmediate(() => fail(new Error(`${kind} job: worker thread exited with code ${code} before finishing`)));
    });
  });
  if (events.signal) {
    if (events.signal.aborted) cancel();
    else events.signal.addEventListener('abort', cancel, { once: true });
  }
  return {
    result,
    cancel,
    terminate: async () => {
      terminated = true;
      await worker.terminate();
    },
    threadId: worker.threadId,
  };
}

/** Runs a job to completion off-thread; `signal` requests a cancel (checkpoint + status 'cancelled'). */
export function runJob<R = unknown, P = unknown>(kind: string, input: unknown, events: JobEvents<P> = {}): Promise<R> {
  return startJob<R, P>(kind, input, events).result;
}
