// `plasticity status ID [--json]`: where a lineage run stands: Temporal status, search attributes, the stage list
// (live `progress` query, or the result of a completed run), the failure of a failed one, the Web UI link.
// Exit code: 0 running or completed, 1 failed or timed out, 4 cancelled or terminated, 3 unknown id, 5 unreachable.
import { Command } from 'commander';
import { workflowUiUrl } from '../../temporal/connection';
import { readRunState, retryLine, type RunState } from '../run-state';
import { requireWorkflowId } from '../temporal-access';
import { refLocation } from '../../store/artifact-store';
import { SWEEP_WORKFLOW_TYPE } from '../../contract/sweep';
import { sweepStatus } from '../../temporal/sweep-client';
import { sweepStatusText } from './sweep';
import { cliConnectionSettings, connectCli, describeRun, exitCodeOf, statusWord } from '../temporal-access';
import { formatDuration, formatNumber, renderView } from '../view';
import { terminalWidth, useColor } from '../view/output';

export function register(program: Command): void {
  program
    .command('status')
    .description('show the status and stages of a lineage run (exit code: 0 running/completed, 1 failed, 4 cancelled/terminated)')
    .argument('<id>', 'workflow id (as printed by `plasticity run` or listed by `plasticity ls`)')
    .option('--json', 'print the state as JSON')
    .action(async (id: string, opts: { json?: boolean }) => {
      requireWorkflowId(id);
      const settings = cliConnectionSettings();
      const client = await connectCli(settings);
      try {
        if ((await describeRun(client, id)).description.type === SWEEP_WORKFLOW_TYPE) {
          const sweep = await sweepStatus(client, id);
          process.stdout.write((opts.json ? JSON.stringify(sweep, null, 2) : sweepStatusText(sweep)) + '\n');
          process.exitCode = exitCodeOf(sweep.status);
          return;
        }
        const state = await readRunState(client, id);
        const uiUrl = workflowUiUrl(settings, id);
        if (opts.json) process.stdout.write(JSON.stringify(statusJson(state, uiUrl), null, 2) + '\n');
        else process.stdout.write(statusText(state, uiUrl, process.stdout) + '\n');
        process.exitCode = exitCodeOf(state.status); // the output already says why
      } finally {
        await client.connection.close();
      }
    });
}

/** The JSON form: stable keys, status in lower case. */
export function statusJson(state: RunState, uiUrl: string | undefined): Record<string, unknown> {
  return {
    workflowId: state.workflowId,
    runId: state.runId,
    status: statusWord(state.status),
    exitCode: exitCodeOf(state.status),
    workflowType: state.workflowType,
    taskQueue: state.taskQueue,
    startTime: state.startTime,
    closeTime: state.closeTime ?? null,
    experiment: state.experiment ?? null,
    model: state.model ?? null,
    stage: state.stage ?? null,
    fraction: state.fraction ?? null,
    failure: state.failure ?? null,
    pending: state.pending ?? null,
    progress: state.progress ?? null,
    progressSource: state.progressSource ?? null,
    result: state.result ?? null,
    uiUrl: uiUrl ?? null,
  };
}

export function statusText(state: RunState, uiUrl: string | undefined, stream: NodeJS.WritableStream): string {
  const lines: string[] = [];
  const end = state.closeTime ? Date.parse(state.closeTime) : Date.now();
  const took = formatDuration((end - Date.parse(state.startTime)) / 1000);
  lines.push(`${state.workflowId}  ${statusWord(state.status)}  (${state.closeTime ? 'took' : 'running for'} ${took})`);
  const attrs = [
    state.experiment && `experiment ${state.experiment}`,
    state.model && `model ${state.model}`,
    state.stage && `stage ${state.stage}`,
    state.fraction !== undefined && `progress ${Math.floor(state.fraction * 100)}%`,
  ].filter(Boolean);
  if (attrs.length) lines.push(attrs.join('  '));
  if (state.status === 'RUNNING') {
    for (const p of state.pending ?? []) {
      const line = retryLine(p);
      if (line) lines.push(`retrying: ${line}`);
      if (p.heartbeatAgeSeconds !== undefined && p.heartbeatAgeSeconds >= 20) {
        lines.push(`worker lost? ${p.activity} (attempt ${p.attempt}) last heartbeated ${p.heartbeatAgeSeconds}s ago`);
      }
    }
  } else if (state.failure && state.status !== 'CANCELLED') lines.push(`reason: ${state.failure}`);
  if (state.progress) {
    lines.push('', renderView(state.progress, { width: terminalWidth(stream), color: useColor(stream) }));
  } else if (state.status === 'RUNNING') {
    lines.push(`(no stage details: no worker answered the progress query on ${state.taskQueue}; start one with \`plasticity worker\`)`);
  }
  if (state.result) {
    const headline = Object.entries(state.result.headline);
    if (headline.length) lines.push('', 'headline:', ...headline.map(([k, v]) => `  ${k.padEnd(28)} ${formatNumber(v)}`));
    lines.push(`compare: ${refLocation(state.result.storeUrl, state.result.compare)}`);
    if (state.result.report) lines.push(`report:  ${refLocation(state.result.storeUrl, state.result.report)}`);
  }
  if (uiUrl) lines.push(`UI  ${uiUrl}`);
  return lines.join('\n');
}
