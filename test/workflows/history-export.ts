// Runs real lineages and exports their histories as replay fixtures (test/fixtures/histories/<name>.json):
// completed, fully cached, failed validation, cancelled mid-stage, and resumed from the cancelled one.
// Usage: node dist/test/workflows/history-export.js   (or scripts/export-histories.ts once scripts/ is compiled)
// Uses TEMPORAL_ADDRESS when set, else starts a headless dev server in a temp folder.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Client, WorkflowHandle } from '@temporalio/client';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { DefaultLogger, Runtime, bundleWorkflowCode } from '@temporalio/worker';
import { loadConfig } from '../../config/load';
import { checkpointSeries } from '../../checkpoint/store';
import { openStore } from '../../store/open';
import { connectClient, connectNative, connectionSettings } from '../../temporal/connection';
import { startDevServer } from '../../temporal/dev-server';
import { resumeLineage, startLineage } from '../../temporal/lineage-client';
import { projectRoot } from '../../temporal/project-root';
import { progressQuery } from '../../contract/lineage';
import { startWorkers, WORKFLOWS_PATH } from '../../workers/run-worker';

export const HISTORIES_DIR = path.join(projectRoot(), 'test', 'fixtures', 'histories');

export interface HistoryFixture {
  workflowId: string;
  /** What the run shows (for people reading the fixture). */
  description: string;
  /** The history in Temporal's JSON form (as `temporal workflow show --output json` prints it). */
  history: unknown;
}

async function save(name: string, description: string, handle: WorkflowHandle, dir: string): Promise<void> {
  const history = JSON.parse(historyToJSON(await handle.fetchHistory())) as unknown;
  const fixture: HistoryFixture = { workflowId: handle.workflowId, description, history };
  fs.writeFileSync(path.join(dir, `${name}.json`), JSON.stringify(fixture, null, 1) + '\n');
  process.stderr.write(`exported ${name}.json (${handle.workflowId})\n`);
}

async function until<T>(check: () => Promise<T | undefined>): Promise<T> {
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 100));
  }
}

export async function exportHistories(client: Client, prefix: string, dir = HISTORIES_DIR): Promise<void> {
  fs.mkdirSync(dir, { recursive: true });
  const tiny = path.join(projectRoot(), 'configs', 'tiny-test.yaml');
  const store = fs.mkdtempSync(path.join(os.tmpdir(), 'plasticity-histories-'));
  const options = { progressIntervalMs: 1000 };
  const codeVersion = 'fixture';

  const loaded = loadConfig(tiny, { set: [`store=${store}`] });
  const completed = await startLineage(client, loaded, { queues: prefix, codeVersion, options, workflowId: 'fixture-completed' });
  await completed.handle.result();
  await save('lineage-completed', 'tiny-test lineage, every stage computed', completed.handle, dir);

  const cached = await startLineage(client, loaded, { queues: prefix, codeVersion, options, workflowId: 'fixture-cached' });
  await cached.handle.result();
  await save('lineage-cached', 'the same config again: every stage reused from the stage cache', cached.handle, dir);

  const missing = loadConfig(tiny, { set: [`store=${store}`, 'model={"source":"hf","path":"/nonexistent/model"}'] });
  const invalid = await startLineage(client, missing, { queues: prefix, codeVersion, options, workflowId: 'fixture-invalid-config' });
  await invalid.handle.result().catch(() => undefined);
  await save('lineage-invalid-config', 'a missing model folder: non-retryable InvalidConfig at validation', invalid.handle, dir);

  const long = loadConfig(tiny, { set: [`store=${store}`, 'corrupt.epochs=12', 'checkpoint_every=2'] });
  const cancelled = await startLineage(client, long, { queues: prefix, codeVersion, options: { progressIntervalMs: 200 }, workflowId: 'fixture-cancelled' });
  const key = await until(async () => (await cancelled.handle.query(progressQuery)).stages.find((s) => s.stage === 'corrupt' && s.status === 'running' && s.key)?.key);
  await until(async () => (await openStore(store).list(`${checkpointSeries(key)}/step-`))[0]);
  await cancelled.handle.cancel();
  await cancelled.handle.result().catch(() => undefined);
  await save('lineage-cancelled', 'cancelled while the corrupt stage trains (it checkpoints, then the lineage ends cancelled)', cancelled.handle, dir);

  const resumed = await resumeLineage(client, cancelled.workflowId, { workflowId: 'fixture-resumed' });
  await resumed.handle.result();
  await save('lineage-resumed', 'resume of the cancelled run: completed stages reused, corrupt continues from its checkpoint', resumed.handle, dir);
}

/** Starts (or connects to) a server, runs the lineages with in-process workers, writes the fixtures. */
export async function exportHistoriesMain(): Promise<void> {
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const server = process.env.TEMPORAL_ADDRESS
    ? undefined
    : await startDevServer({ ui: false, stateDir: fs.mkdtempSync(path.join(os.tmpdir(), 'plasticity-histories-temporal-')) });
  const settings = server ? connectionSettings({ TEMPORAL_ADDRESS: server.address }) : connectionSettings();
  const connection = await connectNative(settings);
  const client = await connectClient(settings);
  const bundle = await bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, logger: new DefaultLogger('WARN') });
  const prefix = `histories-${process.pid}`;
  const workers = await startWorkers({ connection, taskQueuePrefix: prefix, workflowBundle: { code: bundle.code }, handleSignals: false });
  try {
    await exportHistories(client, prefix);
  } finally {
    await workers.shutdown();
    await client.connection.close();
    await connection.close();
    await server?.stop();
  }
}

if (require.main === module) {
  exportHistoriesMain().then(
    () => process.exit(0),
    (err) => {
      console.error(err);
      process.exit(1);
    },
  );
}
