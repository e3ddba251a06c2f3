// Training throughput (tokens/s, effective GFLOP/s) and the GPT-2-small-shaped forward time, per backend.
import { BackendName, initBackend, tf } from '../model/engine';
import { GPT2 } from '../model/gpt2';
import { GPT2_SMALL, ModelConfig } from '../model/config';
import { Adam } from '../train/optimizer';

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
