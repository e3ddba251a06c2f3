// `npm run bench`: prints one JSON document — training throughput per backend and shape, the GPT-2-small-shaped
// forward, the tracing section, and numpy's sgemm as the native reference. Each (part, backend) runs in its own
// process so backends and memory don't interfere.
import { execFileSync, spawnSync } from 'node:child_process';
import * as os from 'node:os';
import * as path from 'node:path';
import { BackendName, initBackend, nativeAvailable } from '../model/engine';
import { TRAIN_SHAPES, benchGpt2SmallForward, benchTrainStep } from './training';
import { benchTracing } from './tracing';

type Part = 'train' | 'forward' | 'tracing';

async function runPart(part: Part, backend: BackendName): Promise<unknown> {
  await initBackend(backend);
  if (part === 'train') {
    const shapes = backend === 'cpu' ? TRAIN_SHAPES.filter((s) => s.name === 'tiny') : TRAIN_SHAPES;
    const out = [];
    for (const s of shapes) out.push(await benchTrainStep(backend, s, backend === 'cpu' ? 2 : 5));
    return out;
  }
  if (part === 'forward') return benchGpt2SmallForward(backend);
  return benchTracing({ backend, log: (m) => console.error(m) });
}

function child(part: Part, backend: BackendName): unknown {
  console.error(`bench: ${part} on ${backend} …`);
  const r = spawnSync(process.execPath, [__filename, '--part', part, '--backend', backend], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 64 << 20 });
  if (r.status !== 0) return { error: `exit ${r.status ?? r.signal}` };
  return JSON.parse(r.stdout);
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
  const report: Record<string, unknown> = {
    machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model, node: process.version, loadavg: os.loadavg() },
    training: backends.map((b) => ({ backend: b, results: child('train', b) })),
    gpt2SmallForward: backends.filter((b) => b !== 'cpu').map((b) => child('forward', b)),
    tracing: backends.filter((b) => b !== 'cpu').map((b) => child('tracing', b)),
    numpySgemm: numpyReference(),
    targets: { wasmSmallTrainingGflops: 15, nativeVsNumpy: 0.5 },
  };
  console.log(JSON.stringify(report, null, 1));
}

main().catch((e) => {
  console.error((e as Error).stack ?? e);
  process.exit(1);
});
