// One lineage trace stage (tracing/job.ts, in-process) on a model folder: every method, the circuit evaluation and
// CMAP (the model as its own donor: same cost as a real pair), with per-method wall times and progress lines.
// Run: node dist/bench/trace-stage.js --model /work/gpt2-small-random [--n 16] [--backend tensorflow] [--out FILE]
import * as os from 'node:os';
import * as path from 'node:path';
import { BackendPreference } from '../model/engine';
import { runTraceJob } from '../tracing/job';
import type { TraceProgress } from '../tracing/stage';
import { PeakRss } from './rss';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

async function main(): Promise<void> {
  const modelDir = arg('model');
  if (!modelDir) throw new Error('--model DIR is required (a Hugging Face GPT-2 folder or a plasticity checkpoint)');
  const n = Number(arg('n') ?? 16);
  const out = arg('out') ?? path.join(os.tmpdir(), `trace-stage-${process.pid}.json`);
  const t0 = performance.now();
  const rss = new PeakRss();
  let step = 'load';
  rss.phase(step);
  let lastLine = 0;
  const r = await runTraceJob({
    backend: (arg('backend') ?? 'auto') as BackendPreference,
    modelDir,
    donorDir: process.argv.includes('--no-cmap') ? undefined : modelDir,
    prompts: { n, seed: 2 },
    stage: 'bench',
    outFile: out,
    ...(arg('budget') ? { memoryBudgetMB: Number(arg('budget')) } : {}),
  }, {
    onProgress: (u) => {
      const p = u as TraceProgress;
      // Item reports name the running step; a step's last report (no item) ends it.
      const running = p.item ? p.step : `after ${p.step}`;
      if (running !== step) rss.phase((step = running));
      const now = performance.now();
      if (now - lastLine > 5000) {
        lastLine = now;
        process.stderr.write(`[${((now - t0) / 1000).toFixed(0)} s] ${JSON.stringify(p)}\n`);
      }
    },
    onCheckpoint: () => undefined,
    log: (m) => process.stderr.write(`${m}\n`),
    signal: { aborted: false },
  });
  const seconds = Object.fromEntries(Object.entries(r.timingsMs).map(([k, v]) => [k, +(v / 1000).toFixed(2)]));
  const total = (performance.now() - t0) / 1000;
  const peak = rss.report();
  rss.stop();
  console.log(JSON.stringify({ n, backend: r.backend, seconds, totalS: +total.toFixed(1), peakRssMB: peak.peakMB, stepPeakRssMB: peak.phasesMB, load: os.loadavg().map((x) => +x.toFixed(2)) }));
}

main().catch((e) => {
  console.error(e instanceof Error ? e.stack : e);
  process.exit(1);
});
