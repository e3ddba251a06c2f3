// The tiny lineage (configs/tiny-test.yaml) per backend, the way a user runs it: `plasticity run` with its in-process
// worker and thread jobs, against one dev server on which another lineage waits on the default task queues (an
// interrupted or detached run: issue 14's trap, where the new run's worker ran that lineage's stages first). Wall
// seconds per stage from the run's JSON events; the side-by-side table flags a stage far slower than the same stage
// on the other backends *relative to that backend's usual pace* (a stall, not a slower backend).
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { connectClient, connectionSettings } from '../temporal/connection';
import { startDevServer } from '../temporal/dev-server';
import { projectRoot } from '../temporal/project-root';
import type { BackendName } from '../model/engine';

export interface LineageStageTimes {
  backend: BackendName;
  seconds: number;
  stages: Record<string, number>;
  loadavg: [number, number];
}

export interface TinyLineageBench {
  runs: (LineageStageTimes | { backend: BackendName; error: string })[];
  /** True when a run's worker touched the lineage waiting on the default queues (it must not). */
  waitingLineageServed: boolean;
}

const CLI = path.join(__dirname, '..', 'cli', 'main.js');
const TINY = () => path.join(projectRoot(), 'configs', 'tiny-test.yaml');

function cli(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const proc = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ...env, NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    proc.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    proc.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    proc.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Seconds per finished stage from `run --json` events. */
export function stageSecondsFromEvents(stdout: string): Record<string, number> {
  const stages: Record<string, number> = {};
  for (const line of stdout.split('\n')) {
    if (!line.startsWith('{')) continue;
    const e = JSON.parse(line) as { type?: string; stage?: string; status?: string; seconds?: number };
    if (e.type === 'stage' && e.status === 'done' && e.stage && typeof e.seconds === 'number') stages[e.stage] = Math.round(e.seconds * 10) / 10;
  }
  return stages;
}

export async function benchTinyLineages(backends: BackendName[], log: (m: string) => void = () => undefined): Promise<TinyLineageBench> {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'plasticity-bench-lineage-'));
  const server = await startDevServer({ ui: false, stateDir: path.join(tmp, 'temporal') });
  const env = { TEMPORAL_ADDRESS: server.address, PLASTICITY_TASK_QUEUE_PREFIX: '' };
  try {
    const waiting = await cli(['run', TINY(), '--detach', '--json', '--set', 'name=bench-waiting', '--set', `store=${tmp}/waiting`], env);
    if (waiting.code !== 0) throw new Error(`bench: starting the waiting lineage failed: ${waiting.stderr}`);
    const waitingId = (JSON.parse(waiting.stdout.trim().split('\n')[0]) as { workflowId: string }).workflowId;
    const runs: TinyLineageBench['runs'] = [];
    for (const backend of backends) {
      log(`tiny lineage on ${backend} (plasticity run, in-process worker)`);
      const load0 = os.loadavg()[0];
      const t0 = Date.now();
      const r = await cli(['run', TINY(), '--json', '--set', `backend=${backend}`, '--set', `name=bench-${backend}`, '--set', `store=${tmp}/${backend}`], env);
      if (r.code !== 0) runs.push({ backend, error: `exit ${r.code}: ${r.stderr.split('\n').slice(-3).join(' ')}` });
      else runs.push({ backend, seconds: (Date.now() - t0) / 1000, stages: stageSecondsFromEvents(r.stdout), loadavg: [load0, os.loadavg()[0]] });
    }
    const client = await connectClient(connectionSettings(env));
    try {
      const handle = client.workflow.getHandle(waitingId);
      const history = await handle.fetchHistory();
      const waitingLineageServed = (history.events ?? []).some((e) => e.workflowTaskStartedEventAttributes || e.activityTaskStartedEventAttributes);
      await handle.terminate('bench done').catch(() => undefined);
      return { runs, waitingLineageServed };
    } finally {
      await client.connection.close();
    }
  } finally {
    await server.stop();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

export interface StageComparison {
  stage: string;
  seconds: Partial<Record<BackendName, number>>;
  /** Slowest over fastest backend for this stage. */
  ratio: number;
  /** The ratio divided by the median ratio of the same two backends over all stages. */
  relative: number;
  flagged: boolean;
}

const FLAG_RELATIVE = 4; // a stage 4× further behind than the backend usually is: a stall
const FLOOR_SECONDS = 2; // stages shorter than this are noise on a shared machine

export function compareStageTimes(runs: LineageStageTimes[]): StageComparison[] {
  const ok = runs.filter((r) => r && r.stages);
  const stages = [...new Set(ok.flatMap((r) => Object.keys(r.stages)))];
  const t = (r: LineageStageTimes, s: string) => Math.max(r.stages[s] ?? NaN, FLOOR_SECONDS);
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 1;
  // Usual pace of backend a against b: the median over stages of t_a / t_b.
  const pace = (a: LineageStageTimes, b: LineageStageTimes) => median(stages.map((s) => t(a, s) / t(b, s)).filter(Number.isFinite));
  return stages.map((stage) => {
    const have = ok.filter((r) => Number.isFinite(r.stages[stage]));
    const slow = have.reduce((x, y) => (t(y, stage) > t(x, stage) ? y : x), have[0]);
    const fast = have.reduce((x, y) => (t(y, stage) < t(x, stage) ? y : x), have[0]);
    const ratio = have.length > 1 ? t(slow, stage) / t(fast, stage) : 1;
    const relative = have.length > 1 ? ratio / pace(slow, fast) : 1;
    const seconds = Object.fromEntries(have.map((r) => [r.backend, r.stages[stage]]));
    return { stage, seconds, ratio: Math.round(ratio * 100) / 100, relative: Math.round(relative * 100) / 100, flagged: relative >= FLAG_RELATIVE };
  });
}

export function stageTable(runs: LineageStageTimes[], rows: StageComparison[]): string {
  const backends = runs.map((r) => r.backend);
  const head = ['stage', ...backends.map((b) => `${b} s`), 'slow/fast', 'vs usual', ''];
  const body = rows.map((r) => [r.stage, ...backends.map((b) => (r.seconds[b] ?? NaN).toFixed(1)), r.ratio.toFixed(2), r.relative.toFixed(2), r.flagged ? '<-- far slower than usual' : '']);
  const all = [head, ...body, ['whole lineage', ...runs.map((r) => r.seconds.toFixed(1)), '', '', '']];
  const widths = head.map((_, i) => Math.max(...all.map((row) => row[i].length)));
  return all.map((row) => row.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd()).join('\n');
}
