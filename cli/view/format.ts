// Small text helpers of the terminal view: durations, numbers, progress bars, colours and width-aware segments.

/** `1h02m`, `3m05s`, `42s`; '?' for unknown or negative values. */
export function formatDuration(seconds: number | undefined): string {
  if (seconds === undefined || !Number.isFinite(seconds) || seconds < 0) return '?';
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/** A loss or metric with 4 significant digits (3.142, 0.01234, 1234). */
export function formatNumber(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  if (x === 0) return '0';
  const abs = Math.abs(x);
  if (abs >= 1e5 || abs < 1e-3) return x.toExponential(2);
  return Number(x.toPrecision(4)).toString();
}

export function formatPercent(fraction: number): string {
  return `${Math.floor(Math.max(0, Math.min(1, fraction)) * 100)}%`;
}

/** `[██████░░░░]`: `width` cells between the brackets, filled in proportion to `fraction` (clamped to 0..1). */
export function progressBar(fraction: number, width: number): string {
  const f = Number.isFinite(fraction) ? Math.max(0, Math.min(1, fraction)) : 0;
  const filled = Math.floor(f * width);
  return `[${'█'.repeat(filled)}${'░'.repeat(width - filled)}]`;
}

/** Seconds between two ISO timestamps (or an ISO timestamp and `now`), when both are known. */
export function secondsBetween(startIso: string | undefined, end: string | number | undefined): number | undefined {
  if (!startIso || end === undefined) return undefined;
  const start = Date.parse(startIso);
  const stop = typeof end === 'number' ? end : Date.parse(end);
  if (!Number.isFinite(start) || !Number.isFinite(stop)) return undefined;
  return Math.max(0, (stop - start) / 1000);
}

// ── Colours and width ─────────────────────────────────────────────────────────────────────────────────────────────

export type Style = 'green' | 'cyan' | 'yellow' | 'red' | 'magenta' | 'dim' | 'bold';

const ANSI: Record<Style, [number, number]> = {
  green: [32, 39],
  cyan: [36, 39],
  yellow: [33, 39],
  red: [31, 39],
  magenta: [35, 39],
  dim: [2, 22],
  bold: [1, 22],
};

/** A piece of a line with an optional style. */
export interface Segment {
  text: string;
  style?: Style;
}

/** Joins segments into one line of at most `width` characters (cut with '…'), styled when `color` is set. */
export function renderLine(segments: Segment[], width: number, color: boolean): string {
  const total = segments.reduce((n, s) => n + [...s.text].length, 0);
  let budget = total > width ? Math.max(0, width - 1) : width;
  let out = '';
  for (const seg of segments) {
    if (budget <= 0) break;
    const chars = [...seg.text];
    const text = chars.length > budget ? chars.slice(0, budget).join('') : seg.text;
    budget -= Math.min(chars.length, budget);
    out += color && seg.style && text ? `\x1b[${ANSI[seg.style][0]}m${text}\x1b[${ANSI[seg.style][1]}m` : text;
  }
  return total > width && width > 0 ? `${out}…` : out;
}

/** Removes ANSI colour codes (for tests and width checks). */
export function stripAnsi(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '');
}
