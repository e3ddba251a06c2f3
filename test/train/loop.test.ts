import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../../ioi/rng';
import { tf } from '../../model/engine';
import { GPT2 } from '../../model/gpt2';
import { parseTrainConfig } from '../../train/config';
import type { Example } from '../../train/data';
import { train, TrainInput, TrainState } from '../../train/loop';
import { useTestBackend } from './helpers';

const V = 12;
const CFG = { n_layer: 1, d_model: 16, n_head: 2, d_head: 8, d_mlp: 32, n_ctx: 16, vocab: V, tied: true, ln_eps: 1e-5 };

/** "a b c d a": the answer repeats the first token — learnable by one attention layer. */
function copyTask(n: number, seed: number): Example[] {
  const rng = new Rng(seed);
  return Array.from({ length: n }, () => {
    const body = Array.from({ length: 4 }, () => 1 + rng.int(V - 1));
    return { tokens: Int32Array.from([...body, body[0]]), lossMask: Uint8Array.from([0, 0, 0, 1]) };
  });
}

function input(model: GPT2, data: Example[], over: Record<string, unknown> = {}): TrainInput {
  const config = parseTrainConfig({ lr: 1e-2, batch_size: 16, steps: 60, log_every: 10, ...over });
  return { model, data, padId: 0, config, totalSteps: config.steps!, startStep: 0, cursor: { epoch: 0, index: 0 }, rng: new Rng(1) };
}

test('the loop learns a copy task with the answer loss, and reports progress every log_every steps', async () => {
  await useTestBackend();
  const model = GPT2.init(CFG, 5);
  const losses: number[] = [];
  const steps: number[] = [];
  const out = await train(input(model, copyTask(64, 1), { steps: 150 }), { onProgress: (p) => (losses.push(p.loss), steps.push(p.step)) });
  assert.equal(out.status, 'completed');
  assert.deepEqual(steps, Array.from({ length: 15 }, (_, i) => (i + 1) * 10));
  const first = out.lossHistory.slice(0, 10).reduce((a, [, l]) => a + l, 0) / 10;
  const last = out.lossHistory.slice(-10).reduce((a, [, l]) => a + l, 0) / 10;
  assert.ok(first > Math.log(V - 1) * 0.8, `initial loss ${first} near ln(11)`);
  assert.ok(last < first / 2, `loss fell from ${first} to ${last}`);
  model.dispose();
});

test('no tensors leak across runs (only the per-length causal masks stay cached)', async () => {
  await useTestBackend();
  const model = GPT2.init(CFG, 6);
  const data = copyTask(32, 2);
  await train(input(model, data, { steps: 5 }));
  const after1 = tf.memory().numTensors;
  await train(input(model, data, { steps: 12 }));
  assert.equal(tf.memory().numTensors, after1);
  model.dispose();
});

test('cancel before the first step checkpoints at startStep; a NaN loss is an error naming the step', async () => {
  await useTestBackend();
  const model = GPT2.init(CFG, 7);
  const states: TrainState[] = [];
  const out = await train(input(model, copyTask(16, 3)), { signal: { aborted: true }, onCheckpoint: async (s) => void states.push(s) });
  assert.equal(out.status, 'cancelled');
  assert.equal(out.step, 0);
  assert.equal(states.length, 1);
  assert.equal(states[0].final, true);
  assert.deepEqual(states[0].cursor, { epoch: 0, index: 0 });
  const w = model.variables()[0];
  w.assign(tf.fill(w.shape, NaN)); // a diverged model
  await assert.rejects(train(input(model, copyTask(16, 3))), /train: loss is NaN at step 1 \(lr /);
  model.dispose();
});

test('periodic checkpoints every checkpoint_every steps, plus the final one', async () => {
  await useTestBackend();
  const model = GPT2.init(CFG, 8);
  const seen: [number, boolean][] = [];
  await train(input(model, copyTask(16, 4), { steps: 10, checkpoint_every: 4 }), { onCheckpoint: async (s) => void seen.push([s.step, s.final]) });
  assert.deepEqual(seen, [[4, false], [8, false], [10, true]]);
  model.dispose();
});
