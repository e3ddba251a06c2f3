import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { initBackend } from '../../model/engine';
import { ModelConfig } from '../../model/config';
import { GPT2 } from '../../model/gpt2';
import { saveHfFolder } from '../../model/hf';
import { runJob } from '../../jobs/offthread';
import { runTraceJob, TraceJobInput, TraceJobResult } from '../../tracing/job';
import { CmapPair, StageTrace } from '../../tracing/results';

// full GPT-2 vocabulary so generated IOI prompts need no mapping; tiny everywhere else
const CONFIG: ModelConfig = { n_layer: 2, d_model: 16, n_head: 2, d_head: 8, d_mlp: 32, n_ctx: 32, vocab: 50257, tied: true, ln_eps: 1e-5 };

async function tinyFolders(): Promise<{ root: string; a: string; b: string }> {
  await initBackend('wasm');
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'trace-job-'));
  const dirs = { root, a: path.join(root, 'stage-a'), b: path.join(root, 'stage-b') };
  for (const [dir, seed] of [[dirs.a, 1], [dirs.b, 2]] as const) {
    const m = GPT2.init(CONFIG, seed);
    await saveHfFolder(m, dir);
    m.dispose();
  }
  return dirs;
}

test('runTraceJob writes the stage trace and the CMAP of a donor; CMAP with itself is zero', async () => {
  const { root, a, b } = await tinyFolders();
  const progress: unknown[] = [];
  const handlers = { onProgress: (p: unknown) => progress.push(p), onCheckpoint: () => {}, log: () => {}, signal: { aborted: false } };
  const input: TraceJobInput = {
    backend: 'wasm', modelDir: a, donorDir: b, prompts: { n: 6, seed: 3 }, methods: ['knockout', 'dla'], role: 'clean',
    circuit: { completenessSamples: 1 }, outFile: path.join(root, 'out', 'a.json'),
  };
  const r = await runTraceJob(input, handlers);
  assert.equal(r.status, 'done');
  assert.equal(r.stage, 'stage-a');
  const trace = JSON.parse(fs.readFileSync(r.outFile!, 'utf8')) as StageTrace;
  assert.equal(trace.metrics.n, 6);
  assert.equal(trace.prompts.seed, 3);
  assert.equal(trace.prompts.corruption, 'abc');
  assert.deepEqual(Object.keys(trace.headScores).sort(), ['dla/head', 'knockout/head']);
  assert.deepEqual(trace.headScores['knockout/head'].shape, [2, 2]);
  assert.ok(progress.length >= 3);
  assert.equal(r.cmapOutFile, path.join(root, 'out', 'a.cmap.json'));
  const pair = JSON.parse(fs.readFileSync(r.cmapOutFile!, 'utf8')) as CmapPair;
  assert.equal(pair.receiver, 'stage-a');
  assert.equal(pair.donor, 'stage-b');
  assert.deepEqual(Object.keys(pair.sweeps).sort(), ['z@END', 'z@all']);
  assert.ok(Math.abs(pair.fReceiver - trace.metrics.logitDiff) < 1e-5);
  assert.ok(pair.sweeps['z@all'].delta.values.some((v) => v !== 0));
  // donor = receiver: every ΔCMAP is 0
  const self = await runTraceJob({ ...input, donorDir: a, outFile: path.join(root, 'self.json'), methods: ['dla'], circuit: false });
  const selfPair = JSON.parse(fs.readFileSync(self.cmapOutFile!, 'utf8')) as CmapPair;
  for (const v of selfPair.sweeps['z@all'].delta.values) assert.ok(Math.abs(v!) < 1e-5);
  // a cancelled job stops before tracing and writes nothing
  const cancelled = await runTraceJob({ ...input, outFile: path.join(root, 'c.json') }, { ...handlers, signal: { aborted: true } });
  assert.equal(cancelled.status, 'cancelled');
  assert.equal(fs.existsSync(path.join(root, 'c.json')), false);
  await assert.rejects(runTraceJob({ ...input, methods: ['nope' as never] }), /methods: unknown 'nope'/);
  fs.rmSync(root, { recursive: true, force: true });
});

test("the 'trace' job kind runs off-thread through jobs/offthread", async () => {
  const { root, a } = await tinyFolders();
  const outFile = path.join(root, 'off.json');
  const r = await runJob<TraceJobResult>('trace', { backend: 'wasm', modelDir: a, prompts: { n: 4, seed: 9 }, methods: ['dla'], circuit: false, outFile } satisfies TraceJobInput);
  assert.equal(r.status, 'done');
  const trace = JSON.parse(fs.readFileSync(outFile, 'utf8')) as StageTrace;
  assert.equal(trace.metrics.n, 4);
  assert.ok(Number.isFinite(trace.metrics.logitDiff));
  fs.rmSync(root, { recursive: true, force: true });
});
