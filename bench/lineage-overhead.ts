// Orchestration overhead: the same lineage run (a) as a Temporal workflow with in-process workers and (b) locally,
// calling the same activities directly (lineage/local.ts), each into a fresh store, wall time for both.
//   node dist/bench/lineage-overhead.js [CONFIG] [--set k=v]... [--only temporal|local]
// Uses TEMPORAL_ADDRESS when set, else starts a headless dev server in a temp folder.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DefaultLogger, Runtime, bundleWorkflowCode } from '@temporalio/worker';
import { loadConfig, type LoadedConfig } from '../config/load';
import { runLineageLocally } from '../lineage/local';
import { connectClient, connectNative, connectionSettings } from '../temporal/connection';
import { startDevServer } from '../temporal/dev-server';
import { codeVersion, startLineage } from '../temporal/lineage-client';
import { startWorkers, WORKFLOWS_PATH } from '../workers/run-worker';
import type { LineageResult } from '../contract/lineage';

interface Timing {
  seconds: number;
  stages: Record<string, number>;
}

function stageSeconds(result: LineageResult): Record<string, number> {
  return Object.fromEntries(Object.entries(result.stages).map(([name, s]) => [name, (Date.parse(s.finishedAt) - Date.parse(s.startedAt)) / 1000]));
}

async function viaTemporal(loaded: LoadedConfig, version: string): Promise<Timing & { setupSeconds: number }> {
  const t0 = Date.now();
  const server = process.env.TEMPORAL_ADDRESS ? undefined : await startDevServer({ ui: false, stateDir: fs.mkdtempSync(path.join(os.tmpdir(), 'plasticity-bench-temporal-')) });
  const settings = server ? connectionSettings({ TEMPORAL_ADDRESS: server.address }) : connectionSettings();
  const connection = await connectNative(settings);
  const client = await connectClient(settings);
  const bundle = await bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, logger: new DefaultLogger('WARN') });
  const prefix = `bench-${process.pid}`;
  const workers = await startWorkers({ connection, taskQueuePrefix: prefix, workflowBundle: { code: bundle.code }, handleSignals: false });
  const setupSeconds = (Date.now() - t0) / 1000;
  try {
    const t1 = Date.now();
    const started = await startLineage(client, loaded, { queues: prefix, codeVersion: version });
    const result = await started.handle.result();
    return { seconds: (Date.now() - t1) / 1000, stages: stageSeconds(result), setupSeconds };
  } finally {
    await workers.shutdown();
    await client.connection.close();
    await connection.close();
    await server?.stop();
  }
}

async function locally(loaded: LoadedConfig, version: string): Promise<Timing> {
  const t0 = Date.now();
  const result = await runLineageLocally(loaded, { codeVersion: version });
  return { seconds: (Date.now() - t0) / 1000, stages: stageSeconds(result) };
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const sets: string[] = [];
  let file: string | undefined;
  let only: string | undefined;
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--set') sets.push(args[++i]);
    else if (args[i] === '--only') only = args[++i];
    else file = args[i];
  }
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const version = `${codeVersion()}-bench-${Date.now()}`; // a fresh code version: no stage comes from an earlier cache
  const fresh = (label: string) => loadConfig(file, { set: [...sets, `store=${fs.mkdtempSync(path.join(os.tmpdir(), `plasticity-bench-${label}-`))}`] });
  const out: Record<string, unknown> = { config: file ?? '(defaults)', sets, cores: os.cpus().length, loadavg: os.loadavg() };
  if (only !== 'temporal') out.local = await locally(fresh('local'), version);
  if (only !== 'local') out.temporal = await viaTemporal(fresh('temporal'), version);
  const l = out.local as Timing | undefined;
  const t = out.temporal as Timing | undefined;
  if (l && t) out.overheadSeconds = Math.round((t.seconds - l.seconds) * 10) / 10;
  out.loadavgAfter = os.loadavg();
  console.log(JSON.stringify(out, null, 2));
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
