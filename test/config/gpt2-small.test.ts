// configs/gpt2-small.yaml end to end, shrunk only in sizes: a tiny HF GPT-2 made here with GPT-2 small's 12 × 12 heads
// and full vocabulary runs every stage through runLineageLocally (the activities without Temporal), and every
// traced model gets Wang's 26-head circuit (trace.circuits) evaluated.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { runLineageLocally } from '../../lineage/local';
import { loadConfig } from '../../config/load';
import { initBackend } from '../../model/engine';
import { makeHfGpt2, tinyConfig } from '../../scripts/make-hf-gpt2';
import { openStore } from '../../store/open';
import { circuitFromConfig } from '../../tracing/circuit-config';
import { wangCircuit } from '../../tracing/circuit';
import type { StageTrace } from '../../tracing/results';

const CONFIG = path.join(__dirname, '..', '..', '..', 'configs', 'gpt2-small.yaml');

test('configs/gpt2-small.yaml: the trace circuit is Wang et al.\'s 26 heads at their class positions', () => {
  const { config } = loadConfig(CONFIG);
  assert.equal(config.model.source, 'hf');
  assert.deepEqual(config.finetune.epochs, [1, 2, 3, 5, 10, 20, 50, 100]);
  assert.ok(!Array.isArray(config.corrupt), 'one corruption branch');
  assert.equal(config.corrupt.epochs, 5);
  const circuits = config.trace.circuits ?? [];
  assert.equal(circuits.length, 1);
  const wang = wangCircuit();
  assert.deepEqual(circuitFromConfig(circuits[0]).heads, wang.heads);
});

test('configs/gpt2-small.yaml runs as a lineage on a tiny 12 × 12-head HF model with the full GPT-2 vocabulary', async () => {
  await initBackend('wasm');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'plasticity-gpt2-small-config-'));
  try {
    const modelDir = path.join(dir, 'model');
    await makeHfGpt2(modelDir, tinyConfig({ n_layer: 12, n_head: 12, d_model: 24, d_head: 2, d_mlp: 48, n_ctx: 32 }), 3);
    const store = path.join(dir, 'store');
    const loaded = loadConfig(CONFIG, {
      set: [
        `model.path=${modelDir}`, `store=${store}`, 'backend=wasm', 'data.n_train=8', 'data.n_eval=4', 'finetune.epochs=[1]',
        'finetune.train.batch_size=8', 'corrupt.epochs=1', 'corrupt.train.batch_size=8', 'retrain.epochs=1', 'retrain.train.batch_size=8',
        'trace.n=4', 'trace.memory_budget_mb=64', 'checkpoint_every=0',
      ],
    });
    const result = await runLineageLocally(loaded, { codeVersion: `test-gpt2-small-config-${Date.now()}` });
    const st = openStore(store);
    const traceStages = Object.values(result.stages).filter((s) => s.kind === 'trace');
    assert.equal(traceStages.length, 4, `trace stages: ${traceStages.map((s) => s.stage).join(', ')}`); // base, finetune-e1, corrupt, retrain
    for (const s of traceStages) {
      const trace = JSON.parse((await st.getBlob(s.outputs.trace)).toString('utf8')) as StageTrace;
      assert.equal(trace.model.config.vocab, 50257);
      assert.equal(trace.settings.memoryBudgetMB, 64);
      assert.equal(trace.headScores['activation_patching/head_z'].values.length, 144);
      const configured = trace.circuit?.configured ?? [];
      assert.equal(configured.length, 1, `${s.stage}: configured circuits`);
      assert.equal(configured[0].circuit.name, 'wang2022');
      assert.equal(configured[0].circuit.heads.length, 26);
      assert.ok(Number.isFinite(configured[0].faithfulness.fCircuit), `${s.stage}: F(C) = ${configured[0].faithfulness.fCircuit}`);
      assert.equal(configured[0].minimality?.nodes.length, 26);
    }
    assert.ok(result.compare.sha256);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
