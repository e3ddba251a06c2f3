// Progress of a running stage activity: heartbeats (readable JSON details; the SDK throttles what it sends) on every
// report and on a keep-alive timer, plus a throttled signal to the workflow so its `progress` query and the Web UI's
// current details show step, loss and ETA. The signal is best-effort: a failure to send it never fails the stage.
import { Context } from '@temporalio/activity';
import { stageHeartbeatSignal, type StageHeartbeat } from '../shared/lineage';

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
}

const KEEPALIVE_MS = 1000;

export function startProgress(stage: string, opts: { intervalMs?: number; resumedFromStep?: number; initial?: StepReport } = {}): ProgressReporter {
  const ctx = Context.current();
  const info = ctx.info;
  const intervalMs = opts.intervalMs ?? 5000;
  const t0 = Date.now();
  const startStep = opts.initial?.step ?? 0;
  let last: StepReport = opts.initial ?? { step: 0, total: 0 };
  let lastSignalAt = 0;
  let signalling = false;

  const details = () => JSON.parse(JSON.stringify(last)) as StepReport; // plain JSON, no undefined fields
  const beat = () => ctx.heartbeat(details());

  const signal = (force: boolean) => {
    const now = Date.now();
    if (signalling || (!force && now - lastSignalAt < intervalMs)) return;
    lastSignalAt = now;
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
    };
    const execution = info.workflowExecution;
    if (!execution) return; // a standalone activity has no workflow to tell
    let handle;
    try {
      handle = ctx.client.workflow.getHandle(execution.workflowId, execution.runId);
    } catch {
      return; // no client in this context (e.g. a mock environment)
    }
    signalling = true;
    handle
      .signal(stageHeartbeatSignal, hb)
      .catch(() => undefined)
      .finally(() => (signalling = false));
  };

  const timer = setInterval(beat, KEEPALIVE_MS);
  timer.unref();
  beat();
  signal(true);
  return {
    report(r) {
      last = { ...last, ...r };
      beat();
      signal(false);
    },
    get last() {
      return last;
    },
    stop() {
      clearInterval(timer);
    },
  };
}
