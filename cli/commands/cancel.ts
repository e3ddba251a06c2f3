// `plasticity cancel ID [--wait]`: asks a running lineage to stop. The running stage stops at its next step
// boundary and keeps its last checkpoint, so `plasticity resume ID` can continue from there.
// Exit code: 0 requested (with --wait: the final status's code, 4 when cancelled; 1 when it has not stopped within
// --timeout, e.g. no worker runs it); 2 when the run is already closed; 3 unknown id; 5 unreachable.
import { Command } from 'commander';
import { CliError, EXIT } from '../errors';
import { innermostMessage } from '../run-state';
import { asCliError, cliConnectionSettings, connectCli, describeRun, exitCodeOf, statusWord } from '../temporal-access';

export function register(program: Command): void {
  program
    .command('cancel')
    .description('cancel a running lineage (the running stage keeps its last checkpoint; see `resume`)')
    .argument('<id>', 'workflow id')
    .option('--wait', 'wait until the run has stopped and exit with its status code (4 = cancelled)')
    .option('--timeout <seconds>', 'with --wait: give up waiting after this many seconds (exit 1)', '120')
    .action(async (id: string, opts: { wait?: boolean; timeout: string }) => {
      const timeoutSeconds = Number(opts.timeout);
      if (!Number.isFinite(timeoutSeconds) || timeoutSeconds <= 0) throw new CliError(`--timeout: expected a positive number of seconds, got ${JSON.stringify(opts.timeout)}`, EXIT.usage);
      const client = await connectCli(cliConnectionSettings());
      try {
        const { handle, description } = await describeRun(client, id);
        if (description.status.name !== 'RUNNING') {
          throw new CliError(`cancel: run ${id} is already ${statusWord(description.status.name)}; nothing to cancel`, EXIT.usage);
        }
        try {
          await handle.cancel();
        } catch (err) {
          throw asCliError(err, id);
        }
        process.stdout.write(`cancellation requested for ${id}\n`);
        if (!opts.wait) {
          process.stdout.write(`the running stage stops at its next step boundary; \`plasticity status ${id}\` shows when it has\n`);
          return;
        }
        let reason: string | undefined;
        let timer: NodeJS.Timeout | undefined;
        const timedOut = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), timeoutSeconds * 1000)));
        const outcome = await Promise.race([
          handle.result().then(
            () => 'closed' as const,
            (err: unknown) => {
              reason = innermostMessage(err);
              return 'closed' as const;
            },
          ),
          timedOut,
        ]).finally(() => clearTimeout(timer));
        if (outcome === 'timeout') {
          throw new CliError(
            `cancel: ${id} has not stopped within ${timeoutSeconds}s; the cancellation stays requested and completes once a worker ` +
              `runs the lineage (is \`plasticity worker\` running?); check with \`plasticity status ${id}\``,
            EXIT.failed,
          );
        }
        const final = (await handle.describe()).status.name;
        process.stdout.write(`${id}: ${statusWord(final)}${reason && final !== 'CANCELLED' ? ` (${reason})` : ''}\n`);
        if (final === 'CANCELLED') process.stdout.write(`continue it with \`plasticity resume ${id}\`\n`);
        process.exitCode = exitCodeOf(final);
      } finally {
        await client.connection.close();
      }
    });
}
