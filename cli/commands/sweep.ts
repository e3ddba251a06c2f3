// `plasticity sweep [CONFIG] --grid key=v1,v2 ... [--set k=v]... [--concurrency N] [--detach] [--no-worker]`: one
// parent workflow runs every grid point (the cartesian product of the --grid flags and the config's `sweep.grid`)
// as a child lineage, at most N at a time, sharing identical stages through the stage cache. Prints the plan line
// first, then follows the sweep until it closes and prints each point's state and the aggregate report.
import * as fs from 'node:fs';
import type { Client } from '@temporalio/client';
import { Command } from 'commander';
import { checkConfigResources } from '../../config/check';
import { ConfigError } from '../../config/load';
import type { ExperimentConfig } from '../../config/schema';
import { expandSweep, type ExpandedSweep } from '../../config/sweep';
import { workflowUiUrl } from '../../temporal/connection';
import { startSweep, sweepStatus, type SweepStatusReport } from '../../temporal/sweep-client';
import { CliError, EXIT } from '../errors';
import { openSession } from '../lineage-session';
import { parsePositiveInt, queuePrefix, queuesFor } from '../options';
import { exitCodeOf, statusWord } from '../temporal-access';
import { planSummaryLine } from '../plan';
import { defaultConfigFile, loadRunConfig } from './run';

const collect = (v: string, prev: string[] = []) => [...prev, v];

/** The --grid and --set flags `sweep` and `plan` share. */
export function gridOptions(command: Command, setHelp: string): Command {
  return command
    .option('--grid <key=v1,v2>', 'sweep a config field (dotted path, as --set) over comma-separated values (repeatable)', collect)
    .option('--set <key=value>', setHelp, collect);
}

interface SweepOptions {
  grid?: string[];
  set?: string[];
  concurrency?: string;
  detach?: boolean;
  worker: boolean;
  queuePrefix?: string;
  json?: boolean;
}

export async function loadSweep(file: string | undefined, opts: { grid?: string[]; set?: string[]; concurrency?: string }): Promise<ExpandedSweep> {
  try {
    const sweep = expandSweep(file ?? defaultConfigFile(), {
      set: opts.set,
      grid: opts.grid,
      ...(opts.concurrency ? { concurrency: parsePositiveInt(opts.concurrency, '--concurrency') } : {}),
    });
    await checkConfigResources(sweep.points[0].config);
    return sweep;
  } catch (err) {
    if (err instanceof ConfigError) throw new CliError(err.message, EXIT.usage);
    throw err;
  }
}

/** The configs of a run, or of every grid point when there is a grid (--grid flags or a sweep: section), with their labels. */
export async function loadPoints(file: string | undefined, opts: { grid?: string[]; set?: string[] }): Promise<{ configs: ExperimentConfig[]; labels: string[] }> {
  const configFile = file ?? defaultConfigFile();
  const hasGrid = (opts.grid?.length ?? 0) > 0 || (configFile ? /^sweep:/m.test(fs.readFileSync(configFile, 'utf8')) : false);
  if (!hasGrid) return { configs: [(await loadRunConfig(configFile, opts.set ?? [])).config], labels: [''] };
  const sweep = await loadSweep(configFile, opts);
  return { configs: sweep.points.map((p) => p.config), labels: sweep.points.map((p) => p.label) };
}

export function register(program: Command): void {
  gridOptions(
    program
      .command('sweep')
      .description('run a lineage for every point of a grid (e.g. --grid seed=0,1,2 --grid corrupt.rate=0.5,1) as one sweep')
      .argument('[config]', 'experiment config, YAML or JSON, optionally with a sweep: {grid, concurrency} section'),
    'override one config field for every point (repeatable)',
  )
    .option('--concurrency <n>', 'child lineages at once (default: sweep.concurrency of the config, else 2)')
    .option('--detach', 'return once the sweep has started')
    .option('--json', 'print the final state as JSON')
    .option('--no-worker', 'do not run workers in this process')
    .option('--queue-prefix <prefix>', 'task-queue prefix')
    .action(async (file: string | undefined, opts: SweepOptions) => {
      const sweep = await loadSweep(file, opts);
      const log = (m: string) => process.stderr.write(`${m}\n`);
      log(`sweep ${sweep.name}: ${sweep.points.length} points (${sweep.axes.map((a) => `${a.key} ∈ {${a.values.join(', ')}}`).join(' × ')}), ${sweep.concurrency} at a time`);
      log(await planSummaryLine(sweep.points.map((p) => p.config)));
      const prefix = queuePrefix(opts.queuePrefix);
      const queues = queuesFor(prefix);
      const session = await openSession({ detach: !!opts.detach, worker: opts.worker, log });
      try {
        await session.provideWorker(prefix, queues);
        const started = await startSweep(session.client, sweep, { queues });
        const ui = workflowUiUrl(session.settings, started.workflowId);
        process.stdout.write(`sweep ${started.workflowId}\n${ui ? `UI    ${ui}\n` : ''}`);
        if (opts.detach) {
          process.stdout.write(`follow it: plasticity status ${started.workflowId}   (cancel, resume take the same id)\n`);
          return;
        }
        process.exitCode = await followSweep(session.client, started.workflowId, { json: opts.json });
      } finally {
        await session.close({ interrupted: false });
      }
    });
}

/** Prints a line whenever the sweep's point counts change, then the final state; returns the exit code. */
export async function followSweep(client: Client, workflowId: string, opts: { json?: boolean } = {}): Promise<number> {
  let last = '';
  const timer = setInterval(() => {
    void sweepStatus(client, workflowId, { queryTimeoutMs: 2000 })
      .then((s) => {
        const line = sweepLine(s);
        if (line !== last) process.stderr.write(`${(last = line)}\n`);
      })
      .catch(() => undefined);
  }, 3000);
  try {
    await client.workflow.getHandle(workflowId).result().catch(() => undefined);
  } finally {
    clearInterval(timer);
  }
  const final = await sweepStatus(client, workflowId);
  process.stdout.write((opts.json ? JSON.stringify(final, null, 2) : sweepStatusText(final)) + '\n');
  return exitCodeOf(final.status);
}

/** `2/4 completed, 1 running, 1 waiting`. */
export function sweepLine(s: SweepStatusReport): string {
  const counts = new Map<string, number>();
  for (const p of s.progress?.points ?? []) counts.set(p.status, (counts.get(p.status) ?? 0) + 1);
  return `${s.workflowId}: ${statusWord(s.status)} · ${[...counts.entries()].map(([k, v]) => `${v} ${k}`).join(', ')}`;
}

/** The sweep and one line per point: status, child workflow id, its current stage and progress. */
export function sweepStatusText(s: SweepStatusReport): string {
  const lines = [sweepLine(s)];
  if (s.failure && s.status !== 'CANCELLED') lines.push(`reason: ${s.failure}`);
  for (const c of s.children) {
    const p = s.progress?.points.find((x) => x.index === c.index);
    const child = c.child;
    const stage = child?.progress ? `${child.progress.current ?? child.progress.status} ${Math.floor(child.progress.fraction * 100)}%` : '';
    const waiting = p?.waitingFor?.length ? `waits for point ${p.waitingFor.join(', ')} (shared stages)` : '';
    lines.push(`  [${c.index}] ${(c.label || '(base config)').padEnd(32)} ${(p?.status ?? (child ? statusWord(child.status as SweepStatusReport['status']) : 'pending')).padEnd(10)} ${(c.workflowId ?? '-').padEnd(48)} ${stage || waiting}`);
  }
  return lines.join('\n');
}
