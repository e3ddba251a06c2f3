// gpu worker processes (node dist/workers/main.js) for crash tests: started on a test's queues, killed at the end.
import { spawn, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import { projectRoot } from '../../temporal/project-root';
import { temporalSettings } from '../support/helpers';

export interface WorkerProcess {
  child: ChildProcess;
  /** stdout + stderr so far, for failure messages. */
  output: () => string;
}

export class WorkerProcesses {
  private readonly children: ChildProcess[] = [];

  constructor(private readonly prefix: string) {}

  gpu(): WorkerProcess {
    const main = path.join(projectRoot(), 'dist', 'workers', 'main.js');
    const child = spawn(process.execPath, [main, '--queues', 'gpu', '--queue-prefix', this.prefix, '--log-level', 'WARN'], {
      env: { ...process.env, TEMPORAL_ADDRESS: temporalSettings().address },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    this.children.push(child);
    return { child, output: () => out };
  }

  killAll(): void {
    for (const c of this.children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  }
}

export const exited = (child: ChildProcess) =>
  new Promise<void>((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve() : child.once('exit', () => resolve())));
