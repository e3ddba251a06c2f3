// `plasticity ls [--experiment X] [--stage S] [--model M] [--status running,failed,…] [--limit N] [--json]`:
// lineage runs, newest first, from a visibility query on plasticity's search attributes and ExecutionStatus.
import { Command } from 'commander';
import { LINEAGE_WORKFLOW_TYPE } from '../../contract/lineage';
import { SWEEP_WORKFLOW_TYPE } from '../../contract/sweep';
import { experimentKey, modelKey, progressKey, stageKey, sweepKey } from '../../temporal/search-attributes';
import { CliError } from '../errors';
import { parsePositiveInt } from '../options';
import { asCliError, cliConnectionSettings, connectCli, statusWord } from '../temporal-access';

/** `--status` words → Temporal's ExecutionStatus values. */
export const STATUS_FILTERS: Record<string, string> = {
  running: 'Running',
  completed: 'Completed',
  failed: 'Failed',
  cancelled: 'Canceled',
  canceled: 'Canceled',
  terminated: 'Terminated',
  'timed-out': 'TimedOut',
  'continued-as-new': 'ContinuedAsNew',
};

export interface ListFilters {
  experiment?: string;
  stage?: string;
  model?: string;
  /** Only this sweep and its children (PlasticitySweep). */
  sweep?: string;
  /** Words of STATUS_FILTERS. */
  statuses?: string[];
}

/** The visibility query for the filters (values quoted; a quote or backslash in a value is refused). */
export function buildListQuery(filters: ListFilters): string {
  const clauses = [`(WorkflowType = ${quote(LINEAGE_WORKFLOW_TYPE, 'type')} OR WorkflowType = ${quote(SWEEP_WORKFLOW_TYPE, 'type')})`];
  if (filters.sweep !== undefined) clauses.push(`${sweepKey.name} = ${quote(filters.sweep, '--sweep')}`);
  if (filters.experiment !== undefined) clauses.push(`${experimentKey.name} = ${quote(filters.experiment, '--experiment')}`);
  if (filters.model !== undefined) clauses.push(`${modelKey.name} = ${quote(filters.model, '--model')}`);
  if (filters.stage !== undefined) clauses.push(`${stageKey.name} = ${quote(filters.stage, '--stage')}`);
  if (filters.statuses?.length) {
    const values = [...new Set(filters.statuses.map(statusFilter))];
    clauses.push(values.length === 1 ? `ExecutionStatus = '${values[0]}'` : `(${values.map((v) => `ExecutionStatus = '${v}'`).join(' OR ')})`);
  }
  return clauses.join(' AND ');
}

function statusFilter(word: string): string {
  const value = STATUS_FILTERS[word.trim().toLowerCase()];
  if (!value) throw new CliError(`--status: unknown status "${word}"; expected some of running, completed, failed, cancelled, terminated, timed-out`);
  return value;
}

function quote(value: string, flag: string): string {
  if (/['"\\]/.test(value) || value.trim() === '') throw new CliError(`${flag}: expected a plain name without quotes or backslashes, got ${JSON.stringify(value)}`);
  return `'${value}'`;
}

export interface ListedRun {
  workflowId: string;
  /** 'lineage' or 'sweep'. */
  type: string;
  /** The sweep a lineage belongs to (its PlasticitySweep), or the sweep's own id. */
  sweep: string | null;
  runId: string;
  status: string;
  experiment: string | null;
  model: string | null;
  stage: string | null;
  fraction: number | null;
  startTime: string;
  closeTime: string | null;
}

interface LsOptions {
  experiment?: string;
  stage?: string;
  model?: string;
  sweep?: string;
  status?: string[];
  limit: string;
  json?: boolean;
}

export function register(program: Command): void {
  program
    .command('ls')
    .description('list lineage runs, newest first, filtered by search attributes and status')
    .option('--experiment <name>', 'experiment name (PlasticityExperiment)')
    .option('--stage <stage>', 'current or last stage (PlasticityStage), e.g. corrupt')
    .option('--model <model>', 'model (PlasticityModel)')
    .option('--sweep <id>', 'a sweep and its child lineages (PlasticitySweep)')
    .option('--status <list>', 'running, completed, failed, cancelled, terminated, timed-out (comma-separated or repeated)', collectList)
    .option('--limit <n>', 'at most this many runs', '20')
    .option('--json', 'print a JSON array')
    .action(async (opts: LsOptions) => {
      const limit = parsePositiveInt(opts.limit, '--limit');
      const query = buildListQuery({ experiment: opts.experiment, stage: opts.stage, model: opts.model, sweep: opts.sweep, statuses: opts.status });
      const client = await connectCli(cliConnectionSettings());
      const runs: ListedRun[] = [];
      try {
        for await (const info of client.workflow.list({ query, pageSize: Math.min(limit, 100) })) {
          const sa = info.typedSearchAttributes;
          runs.push({
            workflowId: info.workflowId,
            type: info.type === SWEEP_WORKFLOW_TYPE ? 'sweep' : 'lineage',
            sweep: sa.get(sweepKey) ?? null,
            runId: info.runId,
            status: statusWord(info.status.name),
            experiment: sa.get(experimentKey) ?? null,
            model: sa.get(modelKey) ?? null,
            stage: sa.get(stageKey) ?? null,
            fraction: sa.get(progressKey) ?? null,
            startTime: info.startTime.toISOString(),
            closeTime: info.closeTime?.toISOString() ?? null,
          });
          if (runs.length >= limit) break;
        }
      } catch (err) {
        const mapped = asCliError(err);
        if (mapped !== err) throw mapped;
        throw new CliError(`ls: the visibility query failed (${(err as Error).message}); query: ${query}`, 1);
      } finally {
        await client.connection.close();
      }
      if (opts.json) process.stdout.write(JSON.stringify(runs, null, 2) + '\n');
      else process.stdout.write(formatRunTable(runs) + '\n');
    });
}

function collectList(value: string, previous: string[] = []): string[] {
  return [...previous, ...value.split(',').map((s) => s.trim()).filter(Boolean)];
}

/** Sweeps first in their place with their listed children indented below them. */
export function groupSweeps(runs: readonly ListedRun[]): { run: ListedRun; child: boolean }[] {
  const sweeps = new Set(runs.filter((r) => r.type === 'sweep').map((r) => r.workflowId));
  const out: { run: ListedRun; child: boolean }[] = [];
  for (const r of runs) {
    if (r.type === 'lineage' && r.sweep && sweeps.has(r.sweep)) continue;
    out.push({ run: r, child: false });
    if (r.type === 'sweep') for (const c of runs.filter((x) => x.type === 'lineage' && x.sweep === r.workflowId).reverse()) out.push({ run: c, child: true });
  }
  return out;
}

/** Aligned columns; '(no runs)' when empty. */
export function formatRunTable(runs: readonly ListedRun[]): string {
  if (runs.length === 0) return '(no runs match)';
  const rows = [
    ['WORKFLOW ID', 'STATUS', 'EXPERIMENT', 'STAGE', 'PROGRESS', 'STARTED'],
    ...groupSweeps(runs).map(({ run: r, child }) => [
      `${child ? '  └ ' : r.type === 'sweep' ? 'sweep ' : ''}${r.workflowId}`,
      r.status,
      r.experiment ?? '-',
      r.stage ?? '-',
      r.fraction !== null ? `${Math.floor(r.fraction * 100)}%` : '-',
      r.startTime.replace('T', ' ').replace(/\.\d+Z$/, 'Z'),
    ]),
  ];
  const widths = rows[0].map((_, c) => Math.max(...rows.map((row) => row[c].length)));
  return rows.map((row) => row.map((cell, c) => (c === row.length - 1 ? cell : cell.padEnd(widths[c]))).join('  ')).join('\n');
}
