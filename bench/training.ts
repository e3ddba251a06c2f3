// Training throughput (tokens/s, effective GFLOP/s), the GPT-2-small training step on an HF folder, and the
// GPT-2-small-shaped forward time, per backend.
import { BackendName, initBackend, tf } from '../model/engine';
import { GPT2 } from '../model/gpt2';
import { GPT2_SMALL, ModelConfig } from '../model/config';
import { Adam } from '../train/optimizer';
import { loadHfFolder } from '../model/hf';
import type { Batch } from '../train/data';
import { trainStep } from '../train/loop';

export interface TrainShape {
  name: string;
  config: ModelConfig;
  batch: number;
  seq: number;
}

export const TRAIN_SHAPES: TrainShape[] = [
  { name: 'tiny', config: { n_layer: 2, d_model: 64, n_head: 4, d_head: 16, d_mlp: 256, n_ctx: 32, vocab: 512, tied: false, ln_eps: 1e-5 }, batch: 64, seq: 16 },
  { name: 'small', config: { n_layer: 4, d_model: 256, n_head: 8, d_head: 32, d_mlp: 1024, n_ctx: 32, vocab: 2048, tied: false, ln_eps: 1e-5 }, batch: 32, seq: 24 },
];

/** Matmul FLOPs of one forward pass per token (projections, attention scores/mixing, unembedding). */
export function forwardFlopsPerToken(c: ModelConfig, seq: number): number {
  const hd = c.n_head * c.d_head;
  const perLayer = 2 * (c.d_model * 3 * hd + hd * c.d_model + 2 * c.d_model * c.d_mlp) + 2 * 2 * seq * hd;
  return c.n_layer * perLayer + 2 * c.d_model * c.vocab;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function randomTokens(b: number, t: number, vocab: number, seed: number): tf.Tensor2D {
  let x = seed >>> 0;
  const vals = Int32Array.from({ length: b * t }, () => ((x = (x * 1664525 + 1013904223) >>> 0) % vocab));
  return tf.tensor2d(vals, [b, t], 'int32');
}

export async function benchTrainStep(backend: BackendName, shape: TrainShape, steps = 5): Promise<Record<string, number | string>> {
  await initBackend(backend);
  const model = GPT2.init(shape.config, 1);
  const opt = new Adam(model.variables(), { betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0.01, decoupled: true });
  const inputs = randomTokens(shape.batch, shape.seq, shape.config.vocab, 7);
  const targets = randomTokens(shape.batch, shape.seq, shape.config.vocab, 8);
  const step = () => {
    tf.tidy(() => {
      const { grads } = tf.variableGrads(() => {
        const logits = model.run(inputs, {}, true).logits!;
        const logp = tf.logSoftmax(tf.reshape(logits, [-1, shape.config.vocab]));
        const onehot = tf.cast(tf.oneHot(tf.reshape(targets, [-1]) as tf.Tensor1D, shape.config.vocab), 'float32');
        return tf.neg(tf.mean(tf.sum(tf.mul(logp, onehot), -1))) as tf.Scalar;
      }, model.variables());
      opt.apply(model.variables().map((v) => grads[v.name]), 1e-3);
    });
    model.variables()[0].dataSync(); // wait for the step to finish
  };
  step(); // warm-up
  const times: number[] = [];
  for (let i = 0; i < steps; i++) {
    const t0 = performance.now();
    step();
    times.push(performance.now() - t0);
  }
  const ms = median(times);
  const tokens = shape.batch * shape.seq;
  const flops = 3 * forwardFlopsPerToken(shape.config, shape.seq) * tokens;
  opt.dispose();
  model.dispose();
  inputs.dispose();
  targets.dispose();
  return { backend, shape: shape.name, step_ms: +ms.toFixed(1), tokens_per_s: Math.round(tokens / (ms / 1000)), effective_gflops: +(flops / (ms / 1000) / 1e9).toFixed(2) };
}

export async function benchGpt2SmallForward(backend: BackendName, reps = 3): Promise<Record<string, number | string>> {
  await initBackend(backend);
  const model = GPT2.init(GPT2_SMALL, 2);
  const tokens = randomTokens(8, 16, GPT2_SMALL.vocab, 3);
  // dataSync outside tidy: tidy walks a returned typed array element by element (seconds for 6.4 M logits)
  const fwd = () => {
    const logits = tf.tidy(() => model.run(tokens).logits!);
    logits.dataSync();
    logits.dispose();
  };
  fwd();
  const times: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    fwd();
    times.push(performance.now() - t0);
  }
  model.dispose();
  tokens.dispose();
  return { backend, model: 'gpt2-small-shaped (random)', batch: 8, seq: 16, forward_ms: +median(times).toFixed(1) };
}

/**
 * The GPT-2-small training step of issue 9 on an HF folder: B rows of T random tokens, answer loss (cross-entropy at
 * the last position only), AdamW with global-norm clipping — the same trainStep the training loop runs. Warm-up,
 * then the median of `steps`; peak RSS of this process (the bench runs each part in its own child).
 */
export async function benchGpt2SmallTrain(backend: BackendName, hfDir: string, opts: { batch?: number; seq?: number; steps?: number } = {}): Promise<Record<string, number | string>> {
  const B = opts.batch ?? 8;
  const T = opts.seq ?? 16;
  const steps = opts.steps ?? 4;
  await initBackend(backend);
  const t0 = performance.now();
  const model = loadHfFolder(hfDir);
  const loadS = (performance.now() - t0) / 1000;
  const V = model.config.vocab;
  const opt = new Adam(model.variables(), { betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0.01, decoupled: true });
  let x = 12345;
  const rand = () => ((x = (x * 1664525 + 1013904223) >>> 0) % V);
  const batch = (): Batch => ({
    inputs: Int32Array.from({ length: B * T }, rand), B, T, at: new Int32Array(B).fill(T - 1),
    targets: Int32Array.from({ length: B }, rand), weights: new Float32Array(B).fill(1), realTokens: B * T,
  });
  const times: number[] = [];
  let numTensors = 0;
  for (let i = 0; i <= steps; i++) {
    const b = batch();
    const s0 = performance.now();
    trainStep(model, opt, b, 1e-4, 1);
    if (i > 0) times.push(performance.now() - s0); // step 0 is the warm-up
    numTensors = tf.memory().numTensors;
  }
  const s = median(times) / 1000;
  const result = {
    backend, model: `${hfDir} (${(model.variables().reduce((a, v) => a + v.size, 0) / 1e6).toFixed(1)} M params)`, batch: B, seq: T, steps,
    load_s: +loadS.toFixed(2), s_per_step: +s.toFixed(3), tokens_per_s: +((B * T) / s).toFixed(1),
    steps_s: times.map((t) => +(t / 1000).toFixed(2)).join(' '), tensors_after: numTensors,
    peak_rss_gb: +(process.resourceUsage().maxRSS / 1024 / 1024).toFixed(2),
  };
  opt.dispose();
  model.dispose();
  return result;
}
