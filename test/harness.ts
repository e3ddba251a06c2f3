// `npm test`: starts the services the tests need (Temporal dev server, SeaweedFS S3) on free loopback ports,
// runs every compiled test file with Node's test runner, then stops the services.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
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

async function main(): Promise<number> {
  const filter = process.argv[2] ?? process.env.TEST_FILTER;
  const files = findTests(distTest).filter((f) => !filter || f.includes(filter));
  if (files.length === 0) throw new Error(`no test files match '${filter}'`);
  const t0 = Date.now();
  const [temporal, s3] = await Promise.all([startTestTemporal(), startSeaweed()]);
  console.log(`harness: temporal at ${temporal.address}, s3 at ${s3.endpoint} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
  const env = {
    ...process.env,
    PLASTICITY_TEST_TEMPORAL_ADDRESS: temporal.address,
    PLASTICITY_TEST_S3_ENDPOINT: s3.endpoint,
    PLASTICITY_TEST_S3_BUCKET: s3.bucket,
    AWS_ACCESS_KEY_ID: s3.accessKeyId,
    AWS_SECRET_ACCESS_KEY: s3.secretAccessKey,
    AWS_REGION: process.env.AWS_REGION ?? 'us-east-1',
  };
  try {
    const code = await new Promise<number>((resolve) => {
      const child = spawn(process.execPath, ['--test', '--test-concurrency=1', '--test-reporter=spec', ...files], { env, stdio: 'inherit' });
      child.on('exit', (c, sig) => resolve(c ?? (sig ? 1 : 0)));
    });
    return code;
  } finally {
    await Promise.allSettled([temporal.stop(), s3.stop()]);
    console.log(`harness: services stopped; total ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  }
}

main().then((code) => process.exit(code), (e) => {
  console.error(`harness: ${(e as Error).stack ?? e}`);
  process.exit(1);
});
