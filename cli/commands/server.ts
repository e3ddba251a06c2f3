// `plasticity server [--port P] [--ui-port U] [--headless] [--state-dir DIR]`: the Temporal dev server in the
// foreground (SQLite state under <project>/.plasticity, plasticity's search attributes registered, Web UI on);
// stops on SIGINT/SIGTERM. `plasticity run`, `worker`, `status`… find it at the default address.
import { Command } from 'commander';
import { localDevServerAddress, parseAddress } from '../../temporal/connection';
import { defaultStateDir, isServerListening, startDevServer } from '../../temporal/dev-server';
import { CliError, EXIT } from '../errors';
import { parsePort } from '../options';

interface ServerOptions {
  port?: string;
  uiPort?: string;
  headless?: boolean;
  stateDir?: string;
}

export function register(program: Command): void {
  program
    .command('server')
    .description('run the Temporal dev server (with the Web UI) in the foreground until Ctrl-C')
    .option('--port <port>', 'gRPC port (default PLASTICITY_DEV_SERVER_PORT, else 7233)')
    .option('--ui-port <port>', 'Web UI port (default: port + 1000)')
    .option('--headless', 'no Web UI')
    .option('--state-dir <dir>', 'folder of the SQLite state (default PLASTICITY_STATE_DIR, else <project>/.plasticity)')
    .action(async (opts: ServerOptions) => {
      const localPort = parseAddress(localDevServerAddress(), 'PLASTICITY_DEV_SERVER_PORT').port;
      const port = opts.port !== undefined ? parsePort(opts.port, '--port') : localPort;
      const uiPort = opts.uiPort !== undefined ? parsePort(opts.uiPort, '--ui-port') : port + 1000;
      const address = `127.0.0.1:${port}`;
      if (await isServerListening(address)) {
        throw new CliError(`server: something already listens at ${address} (another \`plasticity server\`?); use --port to pick another port`, EXIT.usage);
      }
      const server = await startDevServer({ port, uiPort, ui: !opts.headless, stateDir: opts.stateDir ?? defaultStateDir() });
      const out = process.stdout;
      out.write(`Temporal dev server at ${server.address} (namespace ${server.namespace})\n`);
      if (server.uiUrl) out.write(`Web UI  ${server.uiUrl}\n`);
      out.write(`state   ${server.dbFile}\n`);
      if (port !== localPort) out.write(`other commands: export TEMPORAL_ADDRESS=${server.address}\n`);
      out.write('stop with Ctrl-C\n');

      const exitCode = await new Promise<number>((resolve) => {
        let stopping = false;
        const onSignal = (signal: NodeJS.Signals) => {
          stopping = true;
          process.stderr.write(`server: ${signal}, stopping\n`);
          void server.stop().then(() => resolve(EXIT.ok));
        };
        process.once('SIGINT', onSignal);
        process.once('SIGTERM', onSignal);
        server.process.once('exit', (code, signal) => {
          if (stopping) return;
          process.stderr.write(`server: the dev server exited (${code ?? signal})\n`);
          resolve(EXIT.failed);
        });
      });
      await server.stop();
      if (exitCode !== EXIT.ok) throw new CliError('server: the dev server stopped unexpectedly', exitCode);
    });
}
