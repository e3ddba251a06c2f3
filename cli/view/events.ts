// Progress as a stream of events (for pipes, CI logs and --json): one per stage transition, and a periodic
// progress event for the running stage. `progressEvents` is a pure diff of two snapshots.
import type { StageStatus } from '../../contract/lineage';
import { formatDuration, formatNumber, formatPercent, secondsBetween } from './format';
import { stageEta, type ViewStage } from './render';

export interface StartInfo {
  workflowId?: string;
  name?: string;
  uiUrl?: string;
}

/** The end of a run: its status plus any small fields (exit code, headline numbers, artifact URIs). */
export interface EndInfo {
  status: string;
  [key: string]: unknown;
}

export type ViewEvent =
  | ({ type: 'start' } & StartInfo)
  | { type: 'stage'; stage: string; status: StageStatus; seconds?: number; loss?: number; attempt?: number; resumedFromStep?: number; error?: string }
  | { type: 'progress'; stage: string; step: number; total: number; fraction: number; loss?: number; etaSeconds?: number }
  | { type: 'log'; message: string }
  | ({ type: 'end' } & EndInfo);

export interface DiffState {
  /** When the last progress event per stage was emitted (ms). */
  lastProgressAt: Record<string, number>;
}

export interface DiffOptions {
  now: number;
  /** Minimum milliseconds between two progress events of the same stage. */
  intervalMs: number;
}

/**
 * Events between two snapshots of the stage list. With no previous snapshot, every stage that is not pending is
 * reported (so `watch` of a half-done run shows where it stands). Returns the events and the new state.
 */
export function progressEvents(
  prev: readonly ViewStage[] | undefined,
  next: readonly ViewStage[],
  state: DiffState,
  options: DiffOptions,
): { events: ViewEvent[]; state: DiffState } {
  const before = new Map((prev ?? []).map((s) => [s.stage, s]));
  const lastProgressAt = { ...state.lastProgressAt };
  const events: ViewEvent[] = [];
  for (const s of next) {
    const old = before.get(s.stage);
    const changed = old ? old.status !== s.status || (s.status === 'running' && (old.attempt ?? 1) !== (s.attempt ?? 1)) : s.status !== 'pending';
    if (changed) {
      events.push(stageEvent(s));
      if (s.status === 'running') lastProgressAt[s.stage] = options.now;
    }
    if (s.status === 'running' && s.total && s.step !== undefined && s.step > 0) {
      const last = lastProgressAt[s.stage];
      const moved = !old || old.step !== s.step;
      if (moved && (last === undefined || options.now - last >= options.intervalMs)) {
        events.push({
          type: 'progress',
          stage: s.stage,
          step: s.step,
          total: s.total,
          fraction: round(s.step / s.total, 4),
          ...(s.loss !== undefined ? { loss: s.loss } : {}),
          ...optionalEta(stageEta(s, options.now)),
        });
        lastProgressAt[s.stage] = options.now;
      }
    }
  }
  return { events, state: { lastProgressAt } };
}

function stageEvent(s: ViewStage): ViewEvent {
  const seconds = s.status === 'done' || s.status === 'failed' || s.status === 'cancelled' ? secondsBetween(s.startedAt, s.finishedAt) : undefined;
  return {
    type: 'stage',
    stage: s.stage,
    status: s.status,
    ...(seconds !== undefined ? { seconds: round(seconds, 1) } : {}),
    ...(s.loss !== undefined && s.status !== 'running' ? { loss: s.loss } : {}),
    ...(s.status === 'running' && s.attempt && s.attempt > 1 ? { attempt: s.attempt } : {}),
    ...(s.status === 'running' && s.resumedFromStep ? { resumedFromStep: s.resumedFromStep } : {}),
    ...(s.error && (s.status === 'failed' || s.status === 'cancelled') ? { error: s.error } : {}),
  };
}

/** One plain line per event (no colours), for logs. */
export function formatEventLine(e: ViewEvent): string {
  switch (e.type) {
    case 'start':
      return [`started ${e.workflowId ?? e.name ?? ''}`.trimEnd(), e.uiUrl ? `UI ${e.uiUrl}` : ''].filter(Boolean).join('  ');
    case 'stage': {
      const parts = [`${e.stage}: ${e.status}`];
      if (e.status === 'cached') parts.push('(reused from the store)');
      if (e.seconds !== undefined) parts.push(`after ${formatDuration(e.seconds)}`);
      if (e.loss !== undefined) parts.push(`loss ${formatNumber(e.loss)}`);
      if (e.attempt) parts.push(`(attempt ${e.attempt}${e.resumedFromStep ? `, resumed at step ${e.resumedFromStep}` : ''})`);
      else if (e.resumedFromStep) parts.push(`(resumed at step ${e.resumedFromStep})`);
      if (e.error && e.error !== e.status) parts.push(`(${e.error.split('\n')[0]})`);
      return parts.join(' ');
    }
    case 'progress':
      return `${e.stage}: step ${e.step}/${e.total} ${formatPercent(e.fraction)}${e.loss !== undefined ? ` loss ${formatNumber(e.loss)}` : ''}${
        e.etaSeconds !== undefined ? ` ETA ${formatDuration(e.etaSeconds)}` : ''
      }`;
    case 'log':
      return e.message;
    case 'end': {
      const { type: _type, status, ...rest } = e;
      const details = Object.entries(rest)
        .filter(([, v]) => v !== undefined && (typeof v !== 'object' || v === null))
        .map(([k, v]) => `${k} ${typeof v === 'number' ? formatNumber(v) : String(v)}`);
      return [`finished: ${status}`, ...details].join('  ');
    }
  }
}

function optionalEta(eta: number | undefined): { etaSeconds?: number } {
  return eta !== undefined && Number.isFinite(eta) ? { etaSeconds: Math.round(eta) } : {};
}

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
