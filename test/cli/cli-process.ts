// Runs the built CLI (dist/cli/main.js) as a child process and collects its output, for command tests.
import { spawn, type ChildProcess } from 'node:child_process';
import * as net from 'node:net';
import * as path from 'node:path';

export const CLI = path.join(__dirname, '..', '..', 'cli', 'main.js');

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs `plasticity ...args` to completion; env is added to process.env (undefined values remove a variable). */
export function runCli(args: string[], env: Record<string, string | undefined> = {}, options: { cwd?: string; timeoutMs?: number } = {}): Promise<CliResult> {
  const child = startCli(args, env, options.cwd);
  return collect(child, options.timeoutMs ?? 120_000, args);
}

export function startCli(args: string[], env: Record<string, string | undefined> = {}, cwd?: string): ChildProcess {
  const merged: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1' };
  for (const [k, v] of Object.entries(env)) {
    if (v === undefined) delete merged[k];
    else merged[k] = v;
  }
  return spawn(process.execPath, [CLI, ...args], { env: merged, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
}

export function collect(child: ChildProcess, timeoutMs: number, args: string[] = []): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`plasticity ${args.join(' ')} did not finish within ${timeoutMs} ms\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, timeoutMs);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      // 'exit' can come before the pipes are drained
      setImmediate(() => resolve({ code, signal, stdout, stderr }));
    });
  });
}

/** The harness's Temporal dev server; a test that needs it fails when the variable is absent. */
export function testTemporalAddress(): string {
  const address = process.env.PLASTICITY_TEST_TEMPORAL_ADDRESS;
  if (!address) throw new Error('PLASTICITY_TEST_TEMPORAL_ADDRESS is not set: run the tests through the harness (npm test / node dist/test/harness.js cli)');
  return address;
}

/** A loopback port nothing listens on (bound, then released). */
export function closedPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}
