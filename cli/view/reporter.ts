// Progress of long local commands (train, trace, bench) in the same three forms as the lineage view.
//
//   const progress = createProgressReporter({ mode: chooseViewMode(process.stderr, opts.json) });
//   progress.update({ stage: 'train', step, total, loss });   // a new stage name marks the previous one done
//   progress.log('checkpoint step 50 → out/step-000050');
//   progress.done();                                           // or done({ status: 'failed', error })
import { progressEvents, type DiffState } from './events';
import { chooseViewMode, terminalWidth, TtyRegion, useColor, writeEvents, type ViewMode } from './output';
import { renderStages, type ViewStage } from './render';
import { isTensorflowStartupNoise } from './tf-noise';

export interface ProgressUpdate {
  stage: string;
  step: number;
  total: number;
  loss?: number;
  /** Optional own estimate; otherwise derived from the rate since the stage's first update. */
  etaSeconds?: number;
}

export interface ProgressReporter {
  update(u: ProgressUpdate): void;
  log(message: string): void;
  /** Marks the running stage done (or failed/cancelled) and leaves the final view. Idempotent. */
  done(final?: { status?: 'done' | 'failed' | 'cancelled'; error?: string }): void;
}

export interface ProgressReporterOptions {
  /** Default: tty on a terminal, else lines. */
  mode?: ViewMode;
  /** Default process.stderr (stdout stays free for results). */
  stream?: NodeJS.WritableStream;
  /** Minimum ms between progress lines of a stage in lines/json mode (default 10 s); tty redraws at most every 100 ms. */
  intervalMs?: number;
  /** Clock (ms), for tests. */
  now?: () => number;
}

const TTY_MIN_REDRAW_MS = 100;

export function createProgressReporter(options: ProgressReporterOptions = {}): ProgressReporter {
  const stream = options.stream ?? process.stderr;
  const mode = options.mode ?? chooseViewMode(stream);
  const now = options.now ?? Date.now;
  const intervalMs = options.intervalMs ?? 10_000;
  const region = mode === 'tty' ? new TtyRegion(stream) : undefined;
  const stages: ViewStage[] = [];
  const baseline = new Map<string, { step: number; at: number }>();
  let shown: ViewStage[] | undefined;
  let diff: DiffState = { lastProgressAt: {} };
  let lastDraw = 0;
  let finished = false;

  const frame = () => renderStages(stages, { width: terminalWidth(stream), color: useColor(stream), now: now() }).join('\n');
  const emit = (force: boolean) => {
    if (region) {
      if (!force && now() - lastDraw < TTY_MIN_REDRAW_MS) return;
      lastDraw = now();
      region.draw(frame());
      return;
    }
    const { events, state } = progressEvents(shown, stages, diff, { now: now(), intervalMs });
    diff = state;
    shown = stages.map((s) => ({ ...s }));
    writeEvents(stream, mode as 'lines' | 'json', events);
  };
  const finishRunning = (status: 'done' | 'failed' | 'cancelled', error?: string) => {
    for (const s of stages) {
      if (s.status !== 'running') continue;
      s.status = status;
      s.finishedAt = new Date(now()).toISOString();
      if (error) s.error = error;
    }
  };

  return {
    update(u) {
      if (finished) return;
      let stage = stages.find((s) => s.stage === u.stage);
      if (!stage) {
        finishRunning('done');
        stage = { stage: u.stage, status: 'running', startedAt: new Date(now()).toISOString() };
        stages.push(stage);
      }
      const wasNew = stage.step === undefined;
      // The rate counts from the stage's first update, so steps done before (a resumed run) do not inflate it.
      if (wasNew) baseline.set(u.stage, { step: u.step, at: now() });
      const base = baseline.get(u.stage)!;
      const eta = u.etaSeconds ?? (u.step > base.step ? ((now() - base.at) / 1000 / (u.step - base.step)) * Math.max(0, u.total - u.step) : undefined);
      Object.assign(stage, { step: u.step, total: u.total, loss: u.loss, etaSeconds: eta });
      emit(wasNew);
    },
    log(message) {
      if (isTensorflowStartupNoise(message)) return;
      if (finished) return;
      if (region) region.printAbove(message, stages.length ? frame() : undefined);
      else writeEvents(stream, mode as 'lines' | 'json', [{ type: 'log', message }]);
    },
    done(final = {}) {
      if (finished) return;
      finishRunning(final.status ?? 'done', final.error);
      emit(true);
      region?.finish();
      finished = true;
    },
  };
}
