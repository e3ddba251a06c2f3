// `npm run bench`: prints one JSON document — training throughput per backend and shape, the GPT-2-small-shaped
// forward, the tracing section, and numpy's sgemm as the native reference. Each (part, backend) runs in its own
// process so backends and memory don't interfere. Progress goes to stderr, one stage per part (train:wasm, …) as a
// live view on a terminal, plain lines otherwise, JSON events with --json; the children's notes are passed through.
import { execFileSync, spawn } from 'node:child_process';
import * as os from 'node:os';
import * as path from 'node:path';
import { chooseViewMode, createProgressReporter, type ProgressReporter } from '../cli/view';
import { BackendName, initBackend, nativeAvailable } from '../model/engine';
import { TRAIN_SHAPES, benchGpt2SmallForward, benchTrainStep } from './training';
import { benchTracing } from './tracing';
import { benchTinyLineage, compareStageTimes, stageTable, type LineageStageTimes } from './lineage-backends';

type Part = 'train' | 'forward' | 'tracing' | 'lineage';

async function runPart(part: Part, backend: BackendName): Promise<unknown> {
  await initBackend(backend);
  if (part === 'train') {
    const shapes = backend === 'cpu' ? TRAIN_SHAPES.filter((s) => s.name === 'tiny') : TRAIN_SHAPES;
    const out = [];
    for (const s of shapes) out.push(await benchTrainStep(backend, s, backend === 'cpu' ? 2 : 5));
    return out;
  }
  if (part === 'forward') return benchGpt2SmallForward(backend);
  if (part === 'lineage') return benchTinyLineage(backend);
  return benchTracing({ backend, log: (m) => console.error(m) });
}

/** Runs one part in a child process; its stderr lines go to the progress log, its stdout is the part's JSON. */
function child(progress: ProgressReporter, part: Part, backend: BackendName): Promise<unknown> {
  progress.update({ stage: `${part}:${backend}`, step: 0, total: 0 });
  return new Promise((resolve) => {
    const proc = spawn(process.execPath, [__filename, '--part', part, '--backend', backend], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let pending = '';
    proc.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    proc.stderr.on('data', (c: Buffer) => {
      const lines = (pending + c.toString()).split('\n');
      pending = lines.pop()!;
      for (const line of lines) progress.log(line);
    });
    proc.on('close', (code, signal) => {
      if (pending) progress.log(pending);
      if (code !== 0) {
        progress.log(`bench: ${part} on ${backend} failed (exit ${code ?? signal})`);
        resolve({ error: `exit ${code ?? signal}` });
        return;
      }
      try {
        resolve(JSON.parse(stdout));
      } catch (e) {
        resolve({ error: `unreadable output: ${(e as Error).message}` });
      }
    });
  });
}

async function each<T>(items: readonly T[], fn: (item: T) => Promise<unknown>): Promise<unknown[]> {
  const out: unknown[] = [];
  for (const item of items) out.push(await fn(item)); // one part at a time: parts must not compete for the cores
  return out;
}

function numpyReference(): unknown {
  const script = path.resolve(__dirname, '..', '..', 'scripts', 'numpy_matmul_bench.py');
  try {
    const env = { ...process.env };
    delete env.OPENBLAS_CORETYPE; // older OpenBLAS builds need these set; a current numpy runs its best kernel without
    delete env.OPENBLAS_L2_SIZE;
    return JSON.parse(execFileSync('python3', [script, '--sizes', '1024,2048'], { encoding: 'utf8', env, stdio: ['ignore', 'pipe', 'ignore'] }));
  } catch (e) {
    return { error: `numpy reference unavailable: ${(e as Error).message.split('\n')[0]}` };
  }
}

async function main(): Promise<void> {
  const argv = process.argv;
  const partArg = argv.indexOf('--part');
  if (partArg >= 0) {
    const result = await runPart(argv[partArg + 1] as Part, argv[argv.indexOf('--backend') + 1] as BackendName);
    process.stdout.write(JSON.stringify(result));
    return;
  }
  const backends: BackendName[] = nativeAvailable() ? ['tensorflow', 'wasm', 'cpu'] : ['wasm', 'cpu'];
  const progress = createProgressReporter({ mode: chooseViewMode(process.stderr, argv.includes('--json')), stream: process.stderr });
  const machine = { cpus: os.cpus().length, model: os.cpus()[0]?.model, node: process.version, loadavg: os.loadavg() };
  const training = await each(backends, async (b) => ({ backend: b, results: await child(progress, 'train', b) }));
  const gpt2SmallForward = await each(backends.filter((b) => b !== 'cpu'), (b) => child(progress, 'forward', b));
  const tracing = await each(backends.filter((b) => b !== 'cpu'), (b) => child(progress, 'tracing', b));
  const lineageRuns = (await each(backends, (b) => child(progress, 'lineage', b))) as LineageStageTimes[];
  const lineageOk = lineageRuns.filter((r) => r && (r as { stages?: unknown }).stages);
  const tinyLineage = { runs: lineageRuns, stages: compareStageTimes(lineageOk) };
  progress.log(`tiny lineage (configs/tiny-test.yaml, no Temporal), wall seconds per stage:\n${stageTable(lineageOk, tinyLineage.stages)}`);
  progress.update({ stage: 'numpy', step: 0, total: 0 });
  const numpySgemm = numpyReference();
  progress.done();
  const report = { machine, training, gpt2SmallForward, tracing, tinyLineage, numpySgemm, targets: { wasmSmallTrainingGflops: 15, nativeVsNumpy: 0.5 } };
  console.log(JSON.stringify(report, null, 1));
}

main().catch((e) => {
  console.error((e as Error).stack ?? e);
  process.exit(1);
});
