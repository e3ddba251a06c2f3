// `plasticity watch ID [--json]`: the live view of a lineage run until it closes, then its summary.
// Exit code: 0 completed, 1 failed or timed out, 4 cancelled or terminated, 3 unknown id, 5 unreachable,
// 130 when Ctrl-C stops the watching (the run goes on).
import { Command } from 'commander';
import { SWEEP_WORKFLOW_TYPE } from '../../contract/sweep';
import { followSweep } from './sweep';
import { workflowUiUrl } from '../../temporal/connection';
import { followRun, summaryText } from '../follow';
import { EXIT_INTERRUPTED } from '../launch';
import { cliConnectionSettings, connectCli, describeRun } from '../temporal-access';
import { chooseViewMode, createLineageView } from '../view';

export function register(program: Command): void {
  program
    .command('watch')
    .description('follow a lineage run live until it closes (exit code: 0 completed, 1 failed, 4 cancelled/terminated)')
    .argument('<id>', 'workflow id')
    .option('--json', 'one JSON event per line instead of the live view')
    .action(async (id: string, opts: { json?: boolean }) => {
      const settings = cliConnectionSettings();
      const client = await connectCli(settings);
      const stop = new AbortController();
      const onSignal = () => stop.abort();
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
      try {
        const { description } = await describeRun(client, id); // exit 3 before drawing anything
        if (description.type === SWEEP_WORKFLOW_TYPE) {
          process.exitCode = await followSweep(client, id, { json: opts.json });
          return;
        }
        const uiUrl = workflowUiUrl(settings, id);
        const view = createLineageView({ mode: chooseViewMode(process.stdout, opts.json), workflowId: id, uiUrl });
        view.start({ workflowId: id, uiUrl });
        const { state, exitCode } = await followRun(client, id, view, { signal: stop.signal });
        if (view.mode !== 'json') process.stdout.write(summaryText(state) + '\n');
        process.exitCode = stop.signal.aborted && state.status === 'RUNNING' ? EXIT_INTERRUPTED : exitCode;
      } finally {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
        await client.connection.close();
      }
    });
}
