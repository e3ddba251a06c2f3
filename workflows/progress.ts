// The lineage's live state: one StageProgress per planned stage, updated on stage transitions and on the running
// activity's heartbeat signals; rendered for the `progress` query and as the Web UI's markdown current details.
import type { LineageProgress, LineageStatus, StageHeartbeat, StageOutput, StageProgress } from '../contract/lineage';
import type { PlannedStage } from '../lineage/plan';

export class LineageState {
  private readonly stages: StageProgress[];
  private readonly weights: Map<string, number>;
  private status: LineageStatus = 'running';
  private finishedAt?: string;

  constructor(
    private readonly name: string,
    private readonly configHash: string,
    plan: PlannedStage[],
    private readonly startedAt: string,
  ) {
    this.stages = plan.map((p) => ({ stage: p.name, kind: p.kind, status: 'pending', ...(p.branch !== undefined ? { branch: p.branch } : {}) }));
    this.weights = new Map(plan.map((p) => [p.name, p.weight]));
  }

  private get(stage: string): StageProgress {
    const s = this.stages.find((x) => x.stage === stage);
    if (!s) throw new Error(`unknown stage ${stage}`); // a programming error: plan and workflow disagree
    return s;
  }

  running(stage: string, key?: string): void {
    const s = this.get(stage);
    s.status = 'running';
    s.startedAt ??= new Date().toISOString();
    if (key) s.key = key;
  }

  finished(stage: string, output: StageOutput, cached: boolean): void {
    const s = this.get(stage);
    s.status = cached ? 'cached' : 'done';
    s.key = output.key;
    s.startedAt ??= output.startedAt;
    s.finishedAt = cached ? new Date().toISOString() : output.finishedAt;
    if (s.total !== undefined) s.step = s.total;
    if (output.metrics.loss !== undefined) s.loss = output.metrics.loss;
    if (output.metrics.resumedFromStep) s.resumedFromStep = output.metrics.resumedFromStep;
    delete s.etaSeconds;
  }

  failed(stage: string, status: 'failed' | 'cancelled', error: string): void {
    const s = this.get(stage);
    s.status = status;
    s.error = error;
    s.finishedAt = new Date().toISOString();
    delete s.etaSeconds;
  }

  heartbeat(hb: StageHeartbeat): void {
    const s = this.stages.find((x) => x.stage === hb.stage);
    if (!s || s.status !== 'running') return; // late signal from a finished attempt
    s.step = hb.step;
    s.total = hb.total;
    s.attempt = hb.attempt;
    if (hb.loss !== undefined) s.loss = hb.loss;
    if (hb.etaSeconds !== undefined) s.etaSeconds = hb.etaSeconds;
    else delete s.etaSeconds;
    if (hb.checkpoint) s.checkpoint = hb.checkpoint;
    if (hb.resumedFromStep !== undefined) s.resumedFromStep = hb.resumedFromStep;
    if (hb.lastError !== undefined) s.lastError = hb.lastError;
  }

  end(status: LineageStatus): void {
    this.status = status;
    this.finishedAt = new Date().toISOString();
  }

  /** 0..1: finished stages by weight, plus the running stage's step fraction. */
  fraction(): number {
    let total = 0;
    let done = 0;
    for (const s of this.stages) {
      const w = this.weights.get(s.stage) ?? 1;
      total += w;
      if (s.status === 'done' || s.status === 'cached') done += w;
      else if (s.status === 'running' && s.total) done += w * Math.min(1, (s.step ?? 0) / s.total);
    }
    return total > 0 ? Math.round((done / total) * 1000) / 1000 : 0;
  }

  current(): StageProgress | undefined {
    return this.stages.find((s) => s.status === 'running');
  }

  /** Stages running now (several while corruption branches run concurrently). */
  runningStages(): StageProgress[] {
    return this.stages.filter((s) => s.status === 'running');
  }

  snapshot(): LineageProgress {
    return {
      name: this.name,
      configHash: this.configHash,
      status: this.status,
      current: this.current()?.stage,
      fraction: this.fraction(),
      stages: this.stages.map((s) => ({ ...s })),
      startedAt: this.startedAt,
      ...(this.finishedAt ? { finishedAt: this.finishedAt } : {}),
    };
  }

  /** Markdown for the Web UI's "current details" panel. */
  markdown(): string {
    const mark: Record<StageProgress['status'], string> = { pending: '·', running: '▶', done: '✓', cached: '✓ (cached)', failed: '✗', cancelled: '■' };
    const running = this.runningStages();
    const describe = (cur: StageProgress) =>
      `**${cur.stage}**${cur.total ? ` — step ${cur.step ?? 0}/${cur.total}` : ''}${cur.loss !== undefined ? ` · loss ${cur.loss.toFixed(4)}` : ''}${cur.etaSeconds !== undefined ? ` · ETA ${formatSeconds(cur.etaSeconds)}` : ''}${cur.attempt && cur.attempt > 1 ? ` · attempt ${cur.attempt}` : ''}`;
    const head = running.length ? running.map(describe).join(' ‖ ') : `**${this.status}**`;
    const line = (s: StageProgress, indent: string) => {
      const note = s.error ?? (s.status === 'running' && s.lastError ? `previous attempt failed: ${s.lastError}` : undefined);
      return `${indent}- ${mark[s.status]} ${s.stage}${note ? ` — ${note.split('\n')[0].slice(0, 160)}` : ''}`;
    };
    // Several corruption branches: each branch's stages as a nested list under its name, in plan order.
    const branches = [...new Set(this.stages.map((s) => s.branch).filter((b): b is string => b !== undefined))];
    const lines: string[] = [];
    const shown = new Set<string>();
    for (const s of this.stages) {
      if (branches.length < 2 || s.branch === undefined) lines.push(line(s, ''));
      else if (!shown.has(s.branch)) {
        shown.add(s.branch);
        const own = this.stages.filter((x) => x.branch === s.branch);
        const done = own.filter((x) => x.status === 'done' || x.status === 'cached').length;
        lines.push(`- branch **${s.branch}** (${done}/${own.length})`, ...own.map((x) => line(x, '  ')));
      }
    }
    return [`${head} · ${(this.fraction() * 100).toFixed(0)}% of lineage \`${this.name}\``, '', ...lines].join('\n');
  }
}

function formatSeconds(s: number): string {
  if (s < 90) return `${Math.round(s)}s`;
  if (s < 5400) return `${Math.round(s / 60)}m`;
  return `${(s / 3600).toFixed(1)}h`;
}
