// Store size and bytes written of a minimal GPT-2-small-shaped lineage, run without Temporal
// (lineage/local.ts) in a fresh local store:
//   node dist/bench/store-lineage.js [--model DIR] [--trace-n N] [--trace-methods a,b] [--full-trace] [--keep]
// Defaults: the HF folder $PLASTICITY_GPT2_SMALL or /work/gpt2-small-random; data.n_train 64; 1 epoch per train
// stage at batch 8; trace.n 16 with [dla] only (checkpoints dominate the store; --full-trace traces with every
// method, circuit and CMAP — minutes per trace stage at this size). Prints one JSON document: store size (blobs,
// manifests), bytes the store wrote (its own count) and the process's disk writes (/proc/self/io, work folders
// included), peak RSS, per-stage wall time, and the cost of verifying a reused ~500 MB checkpoint.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { runLineageLocally } from '../lineage/local';
import { readDescriptor } from '../checkpoint/store';
import { loadConfig } from '../config/load';
import { BLOB_PREFIX, type ArtifactStore } from '../store/artifact-store';
import { openStore } from '../store/open';
import { Verifier } from '../store/verify';
import { codeVersion } from '../temporal/lineage-client';
import { PeakRss, rssMB } from './rss';

function option(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

function diskWrites(): number | null {
  try {
    const m = /write_bytes:\s*(\d+)/.exec(fs.readFileSync('/proc/self/io', 'utf8'));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

const mb = (b: number) => Math.round(b / 1e5) / 10;

export async function benchStoreLineage(): Promise<unknown> {
  const model = path.resolve(option('--model') ?? process.env.PLASTICITY_GPT2_SMALL ?? '/work/gpt2-small-random');
  if (!fs.existsSync(path.join(model, 'model.safetensors'))) throw new Error(`--model ${model}: no model.safetensors (make one with scripts/, or pass --model DIR)`);
  const fullTrace = process.argv.includes('--full-trace');
  const traceN = option('--trace-n') ?? '16';
  const nTrain = option('--n-train') ?? '64';
  const methods = option('--trace-methods') ?? (fullTrace ? undefined : 'dla');
  const root = fs.mkdtempSync(path.join(process.env.PLASTICITY_BENCH_DIR ?? os.tmpdir(), 'plasticity-store-bench-'));
  const storeDir = path.join(root, 'store');
  const sets = [
    `store=${storeDir}`, 'model.source=hf', `model.path=${model}`, `data.n_train=${nTrain}`, 'data.n_eval=16',
    'finetune.epochs=[1]', 'corrupt.epochs=1', 'retrain.epochs=1',
    'finetune.train.batch_size=8', 'corrupt.train.batch_size=8', 'retrain.train.batch_size=8',
    `trace.n=${traceN}`, ...(methods ? [`trace.methods=${JSON.stringify(methods.split(","))}`] : []),
    ...(fullTrace ? [] : ['trace.circuit=false', 'trace.cmap=false']),
  ];
  const loaded = loadConfig(path.resolve(__dirname, '..', '..', 'configs', 'default.yaml'), { set: sets });
  const stores: ArtifactStore[] = [];
  const open = (spec: string) => {
    const s = openStore(spec);
    stores.push(s);
    return s;
  };
  const rss = new PeakRss();
  const writesBefore = diskWrites();
  const started = Date.now();
  const stageTimes: Record<string, number> = {};
  let stageStart = Date.now();
  const result = await runLineageLocally(loaded, {
    codeVersion: codeVersion(),
    openStore: open,
    onStage: (stage, status) => {
      if (status === 'running') {
        stageStart = Date.now();
        rss.phase(stage);
        console.error(`store-lineage: ${stage} running (RSS ${rssMB()} MB)`);
      } else {
        const peakMB = rss.phase(undefined);
        stageTimes[stage] = Math.round((Date.now() - stageStart) / 100) / 10;
        console.error(`store-lineage: ${stage} ${status} (${stageTimes[stage]} s, peak RSS ${peakMB} MB, RSS now ${rssMB()} MB)`);
      }
    },
  });
  const seconds = (Date.now() - started) / 1000;
  const peak = rss.report();
  rss.stop();
  const writes = diskWrites();
  const store = openStore(storeDir);
  let blobs = 0;
  let manifests = 0;
  for (const e of await store.listEntries('')) (e.key.startsWith(BLOB_PREFIX) ? (blobs += e.bytes) : (manifests += e.bytes));
  const written = stores.reduce((a, s) => a + s.stats.bytesWritten, 0);
  const kept = blobs + manifests;

  // What a stage reuse costs: every blob of the finetune output verified (descriptor, config, plasticity.json, weights).
  const ckpt = result.stages.finetune.outputs.checkpoint;
  const descriptor = await readDescriptor(store, ckpt);
  const t0 = Date.now();
  const verifier = new Verifier(store);
  const ok = await verifier.check([ckpt]);
  const verifySeconds = (Date.now() - t0) / 1000;

  if (!process.argv.includes('--keep')) fs.rmSync(root, { recursive: true, force: true });
  return {
    model, config: sets.slice(1), seconds: Math.round(seconds), stageSeconds: stageTimes, loadavg: os.loadavg(),
    storeMB: { total: mb(kept), blobs: mb(blobs), manifests: mb(manifests) },
    storeWrittenMB: mb(written),
    writtenOverKept: Math.round((written / kept) * 100) / 100,
    processDiskWritesMB: writes !== null && writesBefore !== null ? mb(writes - writesBefore) : null,
    peakRssMB: peak.peakMB,
    stagePeakRssMB: peak.phasesMB,
    rssMethod: peak.method,
    reuseVerification: { ok, blobs: verifier.checked, MB: mb(verifier.bytes), seconds: verifySeconds, MBps: Math.round(verifier.bytes / 1e6 / verifySeconds), files: Object.keys(descriptor.files) },
    goals: { storeMB: 3000, writtenOverKept: 1.5, peakRssMB: 4000 },
  };
}

if (require.main === module) {
  benchStoreLineage().then(
    (r) => console.log(JSON.stringify(r, null, 1)),
    (e) => {
      console.error((e as Error).stack ?? e);
      process.exit(1);
    },
  );
}
