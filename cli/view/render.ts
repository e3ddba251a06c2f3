// The live view as a pure function of a progress snapshot: a header, one line per stage (status symbol, and for the
// running stage a bar with step/total, loss and ETA) and the Web UI link. The TTY view redraws this text in place.
import type { LineageProgress, StageProgress, StageStatus } from '../../contract/lineage';
import { formatDuration, formatNumber, formatPercent, progressBar, renderLine, secondsBetween, type Segment, type Style } from './format';

/** What the view needs of a stage (the lineage's StageProgress; local commands build the same shape). */
export type ViewStage = Pick<StageProgress, 'stage' | 'status'> &
  Partial<Pick<StageProgress, 'branch' | 'step' | 'total' | 'loss' | 'etaSeconds' | 'attempt' | 'resumedFromStep' | 'startedAt' | 'finishedAt' | 'error'>>;

export interface RenderOptions {
  /** Terminal columns; every line is cut to fit. */
  width: number;
  /** ANSI colours (TTY only). */
  color: boolean;
  workflowId?: string;
  uiUrl?: string;
  /** Clock for elapsed times and derived ETAs (ms since epoch; default Date.now()). */
  now?: number;
}

const SYMBOL: Record<StageStatus, string> = { pending: '·', running: '▶', done: '✓', cached: '≡', failed: '✗', cancelled: '■' };
const STYLE: Record<StageStatus, Style> = { pending: 'dim', running: 'yellow', done: 'green', cached: 'cyan', failed: 'red', cancelled: 'magenta' };
const LINEAGE_STYLE: Record<LineageProgress['status'], Style> = { running: 'yellow', completed: 'green', failed: 'red', cancelled: 'magenta' };

/** The whole view: header, stages, UI link; lines joined by '\n' (no trailing newline). */
export function renderView(progress: LineageProgress, options: RenderOptions): string {
  const now = options.now ?? Date.now();
  const { width, color } = options;
  const elapsed = secondsBetween(progress.startedAt, progress.finishedAt ?? now);
  const header: Segment[] = [
    { text: 'lineage ', style: 'dim' },
    { text: progress.name, style: 'bold' },
    { text: ` (${progress.configHash.slice(0, 8)})  `, style: 'dim' },
    { text: progress.status, style: LINEAGE_STYLE[progress.status] },
    { text: progress.status === 'completed' ? '' : ` ${formatPercent(progress.fraction)}` },
    { text: elapsed !== undefined ? `  ${progress.status === 'running' ? 'elapsed' : 'took'} ${formatDuration(elapsed)}` : '', style: 'dim' },
  ];
  const lines = [renderLine(header, width, color)];
  if (options.workflowId) lines.push(renderLine([{ text: 'id  ', style: 'dim' }, { text: options.workflowId }], width, color));
  lines.push(...renderStages(progress.stages, { width, color, now }));
  if (options.uiUrl) lines.push(renderLine([{ text: 'UI  ', style: 'dim' }, { text: options.uiUrl }], width, color));
  return lines.join('\n');
}

/** One line per stage, names aligned; with several corruption branches, each branch's stages grouped under its name. */
export function renderStages(stages: readonly ViewStage[], options: { width: number; color: boolean; now?: number }): string[] {
  const now = options.now ?? Date.now();
  const grouped = new Set(stages.map((s) => s.branch).filter((b) => b !== undefined)).size > 1;
  const nameWidth = Math.min(24, Math.max(8, ...stages.map((s) => s.stage.length)));
  const lines: string[] = [];
  let branch: string | undefined;
  for (const s of stages) {
    if (grouped && s.branch !== undefined && s.branch !== branch) {
      const own = stages.filter((x) => x.branch === s.branch);
      const done = own.filter((x) => x.status === 'done' || x.status === 'cached').length;
      lines.push(renderLine([{ text: '  branch ', style: 'dim' }, { text: s.branch, style: 'bold' }, { text: `  ${done}/${own.length}`, style: 'dim' }], options.width, options.color));
    }
    branch = s.branch;
    lines.push(stageLine(s, grouped && s.branch !== undefined ? '    ' : '  ', nameWidth - (grouped && s.branch !== undefined ? 2 : 0), now, options));
  }
  return lines;
}

function stageLine(s: ViewStage, indent: string, nameWidth: number, now: number, options: { width: number; color: boolean }): string {
  {
    const head: Segment[] = [
      { text: indent },
      { text: `${SYMBOL[s.status]} `, style: STYLE[s.status] },
      { text: `${s.stage.padEnd(nameWidth)} ` },
      { text: s.status === 'pending' ? s.status : s.status.padEnd(STATUS_WIDTH), style: STYLE[s.status] },
    ];
    const used = indent.length + 2 + nameWidth + 1 + STATUS_WIDTH;
    const details = s.status === 'running' ? runningDetails(s, now, options.width - used) : finishedDetails(s);
    return renderLine([...head, ...details], options.width, options.color);
  }
}

const STATUS_WIDTH = 10; // "cancelled" + a space
const MAX_BAR = 30;
const MIN_BAR = 8;

/** Bar, step/total, ETA, loss, attempt: the bar gets the room the text leaves (MIN_BAR..MAX_BAR cells). */
function runningDetails(s: ViewStage, now: number, room: number): Segment[] {
  const extra: Segment[] = [];
  if (s.attempt && s.attempt > 1) extra.push({ text: `  attempt ${s.attempt}`, style: 'magenta' });
  if (s.resumedFromStep) extra.push({ text: `  resumed at step ${s.resumedFromStep}`, style: 'magenta' });
  if (!(s.total && s.total > 0 && s.step !== undefined)) {
    const since = secondsBetween(s.startedAt, now);
    return [{ text: since !== undefined ? `starting (${formatDuration(since)})` : 'starting', style: 'dim' }, ...extra];
  }
  const fraction = s.step / s.total;
  const text: Segment[] = [
    { text: ` ${s.step}/${s.total} ${formatPercent(fraction)}` },
    { text: `  ETA ${formatDuration(stageEta(s, now))}`, style: 'bold' },
    ...(s.loss !== undefined ? [{ text: `  loss ${formatNumber(s.loss)}` }] : []),
    ...extra,
  ];
  const textWidth = text.reduce((n, seg) => n + seg.text.length, 0);
  const cells = Math.max(MIN_BAR, Math.min(MAX_BAR, room - textWidth - 2));
  return [{ text: progressBar(fraction, cells), style: 'yellow' }, ...text];
}

/** Duration and loss of a done stage, the error of a failed or cancelled one. */
function finishedDetails(s: ViewStage): Segment[] {
  const out: Segment[] = [];
  switch (s.status) {
    case 'done': {
      const took = secondsBetween(s.startedAt, s.finishedAt);
      if (took !== undefined) out.push({ text: formatDuration(took) });
      if (s.loss !== undefined) out.push({ text: `  loss ${formatNumber(s.loss)}`, style: 'dim' });
      return out;
    }
    case 'cached':
      return [{ text: 'reused from the store', style: 'dim' }];
    case 'failed':
    case 'cancelled':
      if (s.step !== undefined && s.total) out.push({ text: `at ${s.step}/${s.total}  ` });
      if (s.error && s.error !== s.status) out.push({ text: firstLine(s.error), style: s.status === 'failed' ? 'red' : undefined });
      return out;
    default:
      return out;
  }
}

/**
 * Seconds left for a running stage: the stage's own estimate when it sent one, else the rate since it started
 * (counting only the steps done in this attempt when it resumed from a checkpoint).
 */
export function stageEta(s: ViewStage, now: number = Date.now()): number | undefined {
  if (s.etaSeconds !== undefined) return s.etaSeconds;
  if (s.step === undefined || !s.total) return undefined;
  const done = s.step - (s.resumedFromStep ?? 0);
  const elapsed = secondsBetween(s.startedAt, now);
  if (done <= 0 || elapsed === undefined || elapsed <= 0) return undefined;
  return (elapsed / done) * Math.max(0, s.total - s.step);
}

function firstLine(text: string): string {
  return text.split('\n')[0];
}
