// Progress of a running stage activity: heartbeats (readable JSON details; the SDK throttles what it sends) on every
// report and on a keep-alive timer, plus a signal to the workflow so its `progress` query and the Web UI's current
// details show step, loss, ETA and a retried attempt's previous error. Each signal is a few history events, so their
// interval doubles from `intervalMs` up to MAX_INTERVAL_FACTOR × it (5 s → 10 min): a stage of H hours adds at most
// about log2(120) + 6·H signals, whatever its length. The live step between signals comes from the heartbeat
// details, which the CLI reads through describe. The signal is best-effort: a failure to send it never fails the stage.
import { Context } from '@temporalio/activity';
import { stageHeartbeatSignal, type StageHeartbeat } from '../contract/lineage';

export interface StepReport {
  step: number;
  total: number;
  loss?: number;
  /** Store key of the newest durable checkpoint manifest. */
  checkpoint?: string;
  /** What the step is doing now (e.g. a trace method's heads done and ETA); heartbeat details only. */
  detail?: string;
}

export interface ProgressReporter {
  report(r: Partial<StepReport>): void;
  /** The last report (heartbeat details). */
  readonly last: StepReport;
  stop(): void;
  /** Sends the latest progress to the workflow now (e.g. the step a stopped stage reached) and waits for it. */
  flush(): Promise<void>;
}

const KEEPALIVE_MS = 1000;
/** The signal interval grows to this multiple of the initial one (default 5 s × 120 = 10 min). */
export const MAX_INTERVAL_FACTOR = 120;

/** Milliseconds before the signal after the n-th (0-based): intervalMs · 2^n, capped at MAX_INTERVAL_FACTOR · intervalMs. */
export function signalGapMs(intervalMs: number, n: number): number {
  return intervalMs * Math.min(MAX_INTERVAL_FACTOR, 2 ** Math.min(n, 30));
}

export function startProgress(stage: string, opts: { intervalMs?: number; resumedFromStep?: number; initial?: StepReport } = {}): ProgressReporter {
  const ctx = Context.current();
  const info = ctx.info;
  const intervalMs = opts.intervalMs ?? 5000;
  const t0 = Date.now();
  const startStep = opts.initial?.step ?? 0;
  let last: StepReport = opts.initial ?? { step: 0, total: 0 };
  let lastSignalAt = 0;
  let signals = 0;
  let signalling: Promise<void> | undefined;
  let lastError: string | undefined;

  const details = () => JSON.parse(JSON.stringify(last)) as StepReport; // plain JSON, no undefined fields
  const beat = () => ctx.heartbeat(details());

  const signal = (force: boolean): Promise<void> | undefined => {
    const now = Date.now();
    // A forced signal (e.g. the previous attempt's error just arrived) must not be lost behind one in flight.
    if (signalling) return force ? signalling.then(async () => { await signal(true); }) : signalling;
    if (!force && now - lastSignalAt < signalGapMs(intervalMs, signals - 1)) return undefined;
    const done = last.step - startStep;
    const rate = done > 0 ? done / ((now - t0) / 1000) : 0;
    const hb: StageHeartbeat = {
      stage,
      step: last.step,
      total: last.total,
      attempt: info.attempt,
      ...(last.loss !== undefined && Number.isFinite(last.loss) ? { loss: last.loss } : {}),
      ...(rate > 0 ? { etaSeconds: Math.max(0, Math.round((last.total - last.step) / rate)) } : {}),
      ...(last.checkpoint ? { checkpoint: last.checkpoint } : {}),
      ...(opts.resumedFromStep !== undefined ? { resumedFromStep: opts.resumedFromStep } : {}),
      ...(lastError ? { lastError } : {}),
    };
    const handle = workflowHandle();
    if (!handle) return undefined;
    lastSignalAt = now;
    signals++;
    signalling = handle
      .signal(stageHeartbeatSignal, hb)
      .catch(() => undefined)
      .finally(() => (signalling = undefined));
    return signalling;
  };

  const workflowHandle = () => {
    const execution = info.workflowExecution;
    if (!execution) return undefined; // a standalone activity has no workflow to tell
    try {
      return ctx.client.workflow.getHandle(execution.workflowId, execution.runId);
    } catch {
      return undefined; // no client in this context (e.g. a mock environment)
    }
  };

  // A retried attempt tells the workflow why the previous one failed (Temporal keeps it as the pending activity's
  // last failure), so the query and the Web UI's current details show it, not just "attempt N".
  if (info.attempt > 1) {
    void workflowHandle()
      ?.describe()
      .then((d) => {
        const mine = d.raw.pendingActivities?.find((p) => p.activityId === info.activityId);
        const message = mine?.lastFailure ? innermost(mine.lastFailure) : undefined;
        if (message) {
          lastError = message;
          void signal(true);
        }
      })
      .catch(() => undefined);
  }

  const timer = setInterval(beat, KEEPALIVE_MS);
  timer.unref();
  beat();
  void signal(true);
  return {
    report(r) {
      last = { ...last, ...r };
      beat();
      void signal(false);
    },
    get last() {
      return last;
    },
    stop() {
      clearInterval(timer);
    },
    async flush() {
      await signalling;
      await signal(true);
    },
  };
}

function innermost(failure: { message?: string | null; cause?: unknown }): string | undefined {
  let f: { message?: string | null; cause?: unknown } | undefined = failure;
  let message: string | undefined;
  for (let depth = 0; f && depth < 10; depth++, f = f.cause as typeof f) if (f.message) message = f.message;
  return message;
}
