// After `run` or `resume` started a workflow: print its id and UI link, then either return (--detach) or follow
// it live until it closes. Ctrl-C stops following (a second Ctrl-C exits at once); the run itself is not cancelled.
import { DEFAULT_QUEUE_PREFIX } from '../contract/lineage';
import { workflowUiUrl } from '../temporal/connection';
import { EXIT } from './errors';
import { followRun, summaryText } from './follow';
import type { LineageSession } from './lineage-session';
import { chooseViewMode, createLineageView } from './view';

/** Exit code when Ctrl-C/SIGTERM stopped this command before the run closed (the usual 128 + SIGINT). */
export const EXIT_INTERRUPTED = 130;

export interface LaunchOptions {
  detach?: boolean;
  json?: boolean;
  /** Extra lines shown before following (e.g. what a resume reuses). */
  notes?: string[];
  /** The run's task-queue prefix: an interrupted run continues once a worker serves it. */
  queuePrefix?: string;
}

/** Returns the exit code: 0 completed (or detached), 1 failed/timed out, 4 cancelled/terminated, 130 interrupted. */
export async function presentRun(session: LineageSession, workflowId: string, options: LaunchOptions): Promise<number> {
  const uiUrl = workflowUiUrl(session.settings, workflowId);
  const view = createLineageView({ mode: chooseViewMode(process.stdout, options.json), workflowId, uiUrl });
  if (options.detach) {
    if (options.json) process.stdout.write(JSON.stringify({ type: 'start', workflowId, uiUrl: uiUrl ?? null }) + '\n');
    else process.stdout.write(`workflow ${workflowId}\n${uiUrl ? `UI       ${uiUrl}\n` : ''}`);
  } else view.start({ workflowId, uiUrl }); // the tty frame shows the id and the UI link itself
  for (const note of options.notes ?? []) process.stderr.write(`${note}\n`);
  if (options.detach) {
    if (!options.json) process.stdout.write(`follow it: plasticity watch ${workflowId}   (status, cancel, resume take the same id)\n`);
    return EXIT.ok;
  }

  session.setLog((m) => view.log(m));
  const stop = new AbortController();
  const onSignal = () => {
    if (stop.signal.aborted) process.exit(EXIT_INTERRUPTED); // second Ctrl-C: give up waiting for the checkpoint
    process.stderr.write('\nstopping (the run is not cancelled; Ctrl-C again to quit at once)\n');
    stop.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const { state, exitCode } = await followRun(session.client, workflowId, view, { signal: stop.signal, workerFailure: () => session.workerFailure });
    if (view.mode !== 'json') {
      process.stdout.write(summaryText(state) + '\n');
      if (state.status === 'RUNNING') {
        const worker = `plasticity worker${options.queuePrefix && options.queuePrefix !== DEFAULT_QUEUE_PREFIX ? ` --queue-prefix ${options.queuePrefix}` : ''}`;
        if (session.server === 'embedded') {
          process.stdout.write(`the embedded server stops with this command: the run continues after \`plasticity server\` and \`${worker}\` are started again\n`);
        } else if (session.inProcessWorker) {
          process.stdout.write(`its worker stops with this command: the run continues once \`${worker}\` runs\n`);
        }
      }
    }
    return stop.signal.aborted && state.status === 'RUNNING' ? EXIT_INTERRUPTED : exitCode;
  } finally {
    session.setLog((m) => process.stderr.write(`${m}\n`));
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
