// Progress of the long local commands (train, trace, cmap) on stderr, in the same three forms as `run`/`watch`:
// a live bar on a terminal, plain throttled lines in pipes and CI, JSON events with --json. Stdout keeps the result.
import { Command } from 'commander';
import { CliError } from './errors';
import { chooseViewMode, createProgressReporter, type ProgressReporter } from './view';

export interface ProgressCliOptions {
  json?: boolean;
  /** Seconds, as typed (--progress-every). */
  progressEvery?: string;
}

/** Default seconds between two progress lines (or JSON progress events) of a stage when not on a terminal. */
export const DEFAULT_PROGRESS_EVERY_S = 10;

export function addProgressOption(cmd: Command): Command {
  return cmd.option(
    '--progress-every <seconds>',
    `minimum seconds between progress lines or JSON progress events (not on a terminal; 0: every report)`,
    String(DEFAULT_PROGRESS_EVERY_S),
  );
}

export function parseProgressEvery(value: string | undefined): number {
  if (value === undefined) return DEFAULT_PROGRESS_EVERY_S;
  const s = Number(value);
  if (value.trim() === '' || !Number.isFinite(s) || s < 0) throw new CliError(`--progress-every: expected a number of seconds >= 0, got ${JSON.stringify(value)}`);
  return s;
}

/** The reporter a local command writes its progress to: stderr; JSON events with --json. */
export function localProgress(opts: ProgressCliOptions): ProgressReporter {
  return createProgressReporter({ mode: chooseViewMode(process.stderr, !!opts.json), stream: process.stderr, intervalMs: parseProgressEvery(opts.progressEvery) * 1000 });
}

/** Runs `work` and closes the reporter: done on success, failed (with the message) when it throws. */
export async function withProgress<T>(progress: ProgressReporter, work: () => Promise<T>): Promise<T> {
  try {
    const out = await work();
    progress.done();
    return out;
  } catch (e) {
    progress.done({ status: 'failed', error: (e as Error).message ?? String(e) });
    throw e;
  }
}

/**
 * ETA from the rate since the first report of the work itself, so start-up time (backend, data, caches) before it
 * does not count. NaN until a second report: the view shows "ETA ?" and events leave the field out.
 */
export function etaSinceFirstReport(now: () => number = Date.now): (step: number, total: number) => number {
  let first: { step: number; at: number } | undefined;
  return (step, total) => {
    if (!first) first = { step, at: now() };
    if (step <= first.step) return NaN;
    return ((now() - first.at) / 1000 / (step - first.step)) * Math.max(0, total - step);
  };
}
