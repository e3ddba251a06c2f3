// Peak resident memory of this process, overall and per named phase (stages of a lineage, steps of a trace).
// Linux: the kernel's high-water mark (VmHWM), reset at each phase start through /proc/self/clear_refs, so a
// phase's peak is exact however short the spike; elsewhere (or without write access) a 200 ms sampler of RSS.
import * as fs from 'node:fs';

const MB = 1024 * 1024;

function statusKB(field: 'VmRSS' | 'VmHWM'): number | null {
  try {
    const m = new RegExp(`^${field}:\\s*(\\d+) kB`, 'm').exec(fs.readFileSync('/proc/self/status', 'utf8'));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

function resetHighWater(): boolean {
  try {
    fs.writeFileSync('/proc/self/clear_refs', '5');
    return true;
  } catch {
    return false;
  }
}

export class PeakRss {
  private readonly exact = statusKB('VmHWM') !== null && resetHighWater();
  private readonly phases: Record<string, number> = {};
  private current: string | undefined;
  private sampled = 0;
  private overall = 0;
  private readonly timer: NodeJS.Timeout;

  constructor(intervalMs = 200) {
    this.timer = setInterval(() => this.sample(), intervalMs);
    this.timer.unref();
  }

  /** Bytes: the peak since the current phase started (or since construction). */
  private peakSinceReset(): number {
    const hwm = this.exact ? statusKB('VmHWM') : null;
    return hwm !== null ? hwm * 1024 : this.sampled;
  }

  private sample(): void {
    const rss = statusKB('VmRSS');
    if (rss !== null) this.sampled = Math.max(this.sampled, rss * 1024);
  }

  /** Ends the current phase (if any; returns its peak in MB) and starts `name`; a phase entered twice keeps its larger peak. */
  phase(name: string | undefined): number {
    this.sample();
    const peak = this.peakSinceReset();
    this.overall = Math.max(this.overall, peak);
    if (this.current !== undefined) this.phases[this.current] = Math.max(this.phases[this.current] ?? 0, peak);
    this.current = name;
    this.sampled = 0;
    if (this.exact) resetHighWater();
    this.sample();
    return Math.round(peak / MB);
  }

  /** Peak RSS in MB: overall, per phase, and how it was measured. */
  report(): { peakMB: number; phasesMB: Record<string, number>; method: 'VmHWM' | 'sampled' } {
    this.phase(this.current);
    const round = (b: number) => Math.round(b / MB);
    return {
      peakMB: round(this.overall),
      phasesMB: Object.fromEntries(Object.entries(this.phases).map(([k, v]) => [k, round(v)])),
      method: this.exact ? 'VmHWM' : 'sampled',
    };
  }

  stop(): void {
    clearInterval(this.timer);
  }
}

/** Current RSS in MB (null off Linux). */
export function rssMB(): number | null {
  const kb = statusKB('VmRSS');
  return kb === null ? null : Math.round(kb / 1024);
}
