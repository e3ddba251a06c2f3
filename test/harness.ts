// `npm test [-- <path substring>]`: starts the services the chosen tests need (Temporal dev server, SeaweedFS S3)
// on free loopback ports, runs the compiled test files with Node's test runner, then stops the services. A test
// needs a service when it, or a test helper it requires, uses one of that service's helpers (servicesNeeded); a
// pure-library test starts nothing. A missed need fails loudly: the service helpers throw when their address is unset.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { startTestTemporal } from './services/temporal';
import { startSeaweed } from './services/seaweedfs';

const distTest = __dirname;

function findTests(dir: string): string[] {
  const out: string[] = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory() && entry.name !== 'fixtures') out.push(...findTests(full));
    else if (entry.isFile() && entry.name.endsWith('.test.js')) out.push(full);
  }
  return out.sort();
}

const SERVICE_MARKERS = {
  temporal: ['PLASTICITY_TEST_TEMPORAL_ADDRESS', 'temporalSettings', 'connectTemporal', 'testWorkers', 'useTestWorkers', 'testTemporalAddress'],
  s3: ['PLASTICITY_TEST_S3_ENDPOINT', 's3Settings', 's3Target', "'s3://", '"s3://'],
};
/** The files that define the service helpers: their definitions are not uses. */
const SERVICE_PROVIDERS = ['support/helpers.js', 'cli/cli-process.js', 'store/s3-target.js'].map((f) => path.join(distTest, f));

/** Which services the given test files use, following their requires of other test modules. */
export function servicesNeeded(files: string[]): { temporal: boolean; s3: boolean } {
  const seen = new Set<string>();
  const need = { temporal: false, s3: false };
  const visit = (file: string) => {
    if (seen.has(file) || !file.startsWith(distTest)) return;
    seen.add(file);
    const text = fs.readFileSync(file, 'utf8');
    if (!SERVICE_PROVIDERS.includes(file)) {
      for (const service of ['temporal', 's3'] as const) if (SERVICE_MARKERS[service].some((m) => text.includes(m))) need[service] = true;
    }
    for (const m of text.matchAll(/require\("(\.{1,2}\/[^"]+)"\)/g)) {
      const target = path.resolve(path.dirname(file), m[1]);
      for (const candidate of [`${target}.js`, path.join(target, 'index.js')]) if (fs.existsSync(candidate)) visit(candidate);
    }
  };
  files.forEach(visit);
  return need;
}

async function main(): Promise<number> {
  const filter = process.argv[2] ?? process.env.TEST_FILTER;
  const files = findTests(distTest).filter((f) => !filter || f.includes(filter));
  if (files.length === 0) throw new Error(`no test files match '${filter}'`);
  const t0 = Date.now();
  const need = servicesNeeded(files);
  const [temporal, s3] = await Promise.all([need.temporal ? startTestTemporal() : undefined, need.s3 ? startSeaweed() : undefined]);
  console.log(`harness: ${files.length} test files; temporal ${temporal?.address ?? 'not needed'}, s3 ${s3?.endpoint ?? 'not needed'} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'plasticity-test-home-')); // the CLI's caches, not the user's
  const env: NodeJS.ProcessEnv = { ...process.env, PLASTICITY_HOME: home, AWS_REGION: process.env.AWS_REGION ?? 'us-east-1' };
  if (temporal) env.PLASTICITY_TEST_TEMPORAL_ADDRESS = temporal.address;
  if (s3) {
    Object.assign(env, {
      PLASTICITY_TEST_S3_ENDPOINT: s3.endpoint,
      PLASTICITY_TEST_S3_BUCKET: s3.bucket,
      AWS_ACCESS_KEY_ID: s3.accessKeyId,
      AWS_SECRET_ACCESS_KEY: s3.secretAccessKey,
    });
  }
  try {
    const code = await new Promise<number>((resolve) => {
      const child = spawn(process.execPath, ['--test', '--test-concurrency=1', '--test-reporter=spec', ...files], { env, stdio: 'inherit' });
      child.on('exit', (c, sig) => resolve(c ?? (sig ? 1 : 0)));
    });
    return code;
  } finally {
    await Promise.allSettled([temporal?.stop(), s3?.stop()]);
    fs.rmSync(home, { recursive: true, force: true });
    console.log(`harness: services stopped; total ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  }
}

if (require.main === module) {
  main().then((code) => process.exit(code), (e) => {
    console.error(`harness: ${(e as Error).stack ?? e}`);
    process.exit(1);
  });
}
