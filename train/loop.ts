// The training loop: batches from a cursor, forward + cross-entropy, gradients, clipping, Adam, progress,
// checkpoints and cancellation at step boundaries. Everything that affects the weights is restored from a
// checkpoint, so stopping at step k and resuming gives bit-identical weights on the same backend.
import { Rng, RngState } from '../ioi/rng';
import { activeBackend, oneHotF32, tf } from '../model/engine';
import { GPT2, WTE } from '../model/gpt2';
import type { TrainConfig } from './config';
import { Batch, BatchStream, Cursor, Example, collate } from './data';
import { Adam, OptimizerState, clipScale, globalNorm, lrAt } from './optimizer';
import { DeterministicError } from '../errors/deterministic';

export interface TrainInput {
  model: GPT2;
  optimizerState?: OptimizerState | null; // adopted by the optimizer: its arrays are updated in place
  data: readonly Example[];
  padId: number; // model id used to pad inputs (never scored)
  config: TrainConfig;
  totalSteps: number;
  startStep: number; // updates already done (0 for a fresh run)
  cursor: Cursor;
  rng: Rng; // saved in checkpoints; reserved for stochastic training (dropout) — the data order is seeded separately
  lossHistory?: [number, number][]; // carried over from a resumed checkpoint
}

export interface Progress {
  step: number; // updates done
  total: number;
  loss: number;
  tokensPerSec: number;
  lr: number;
  gradNorm: number;
}

/** What a checkpoint needs at a step boundary. */
export interface TrainState {
  step: number;
  totalSteps: number;
  cursor: Cursor;
  rng: RngState;
  lossHistory: [number, number][];
  final: boolean; // the last step of the run (or the cancel point)
  optimizer(): Promise<OptimizerState>;
}

export interface TrainHandlers {
  onProgress?(p: Progress): void;
  onCheckpoint?(state: TrainState): Promise<void>;
  /** Checked at every step boundary; AbortSignal works, as does any object with `aborted`. */
  signal?: { readonly aborted: boolean };
}

export interface TrainOutcome {
  status: 'completed' | 'cancelled';
  step: number;
  cursor: Cursor;
  lossHistory: [number, number][];
  tokens: number;
  seconds: number;
}

/** Mean cross-entropy over the scored positions of a batch; differentiable w.r.t. the model's variables. */
export function batchLoss(model: GPT2, batch: Batch, embedRows?: tf.Tensor2D): tf.Scalar {
  const V = model.config.vocab;
  const x = tf.tensor2d(batch.inputs, [batch.B, batch.T], 'int32');
  const logits = batch.at
    ? (model.run(x, { logitsAt: batch.at, lastBlockRows: batch.at, embedRows }, true).logits as tf.Tensor2D) // last block at END rows only
    : (tf.reshape(model.run(x, { logitsAt: 'all', embedRows }, true).logits!, [batch.B * batch.T, V]) as tf.Tensor2D);
  const logp = tf.logSoftmax(logits);
  const nll = tf.neg(tf.sum(tf.mul(logp, oneHotF32(tf.tensor1d(batch.targets, 'int32'), V)), -1));
  const w = tf.tensor1d(batch.weights, 'float32');
  return tf.div(tf.sum(tf.mul(nll, w)), Math.max(1, batch.weights.reduce((a, b) => a + b, 0))) as tf.Scalar;
}

/**
 * Loss, gradients (variable order) and their global norm, inside the caller's tidy. A tied W_E gets its dense
 * gradient from the unembedding alone; the lookup's gradient arrives as [B·T, d] rows, scatter-added in JS into that
 * gradient's values (a Float32Array in the list): no dense [vocab, d] gather gradient, no dense sum of the two.
 */
export function lossAndGradients(model: GPT2, batch: Batch): { loss: tf.Scalar; grads: (tf.Tensor | Float32Array)[]; norm: number } {
  const vars = model.variables();
  const d = model.config.d_model;
  if (!model.config.tied) {
    const { value, grads } = tf.variableGrads(() => batchLoss(model, batch), vars);
    const list = vars.map((v) => grads[v.name]);
    return { loss: value, grads: list, norm: globalNorm(list) };
  }
  const wte = model.params[WTE];
  const rowsVar = tf.variable(tf.zeros([batch.B * batch.T, d]) as tf.Tensor2D, true);
  const { value, grads } = tf.variableGrads(() => batchLoss(model, batch, rowsVar), [...vars, rowsVar]);
  const list: (tf.Tensor | Float32Array)[] = vars.map((v) => grads[v.name]);
  const dense = grads[wte.name];
  const read = dense.dataSync() as Float32Array;
  const g = activeBackend() === 'cpu' ? read.slice() : read; // cpu hands out the tensor's own storage
  dense.dispose();
  const rows = grads[rowsVar.name].dataSync() as Float32Array;
  rowsVar.dispose();
  for (let r = 0; r < batch.inputs.length; r++) {
    const dst = batch.inputs[r] * d;
    for (let j = 0; j < d; j++) g[dst + j] += rows[r * d + j];
  }
  let sumSq = 0;
  for (let j = 0; j < g.length; j++) sumSq += g[j] * g[j];
  list[vars.indexOf(wte)] = g;
  const rest = list.filter((x): x is tf.Tensor => !(x instanceof Float32Array));
  return { loss: value, grads: list, norm: Math.sqrt(globalNorm(rest) ** 2 + sumSq) };
}

/** One update: loss and gradients, global-norm clipping, Adam(W). Returns the loss and the pre-clip gradient norm. */
export function trainStep(model: GPT2, opt: Adam, batch: Batch, lr: number, clip: number | null): { loss: number; gradNorm: number } {
  const out = tf.tidy(() => {
    const { loss, grads, norm } = lossAndGradients(model, batch);
    opt.apply(grads, lr, clipScale(norm, clip), true); // each gradient freed once applied
    return { loss: loss.dataSync()[0], gradNorm: norm };
  });
  model.weightsChanged();
  return out;
}

const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

export async function train(input: TrainInput, handlers: TrainHandlers = {}): Promise<TrainOutcome> {
  const { model, config, totalSteps } = input;
  const vars = model.variables();
  const opt = Adam.fromTrainConfig(vars, config, input.optimizerState ?? undefined);
  if (opt.step !== input.startStep) {
    opt.dispose();
    throw new Error(`train: optimizer state is at step ${opt.step} but startStep is ${input.startStep}`);
  }
  const stream = new BatchStream(input.data, config.batch_size, config.seed);
  let cursor = input.cursor;
  const history: [number, number][] = [...(input.lossHistory ?? [])];
  let step = input.startStep;
  let tokens = 0;
  const t0 = Date.now();
  let lastLogAt = t0;
  let tokensSinceLog = 0;

  const state = (final: boolean): TrainState => ({
    step, totalSteps, cursor: { ...cursor }, rng: input.rng.getState(), lossHistory: history, final,
    optimizer: async () => opt.stateView(), // the handler runs before the next step: no copy of the moments
  });

  try {
    while (step < totalSteps) {
      if (handlers.signal?.aborted) {
        await handlers.onCheckpoint?.(state(true));
        return { status: 'cancelled', step, cursor, lossHistory: history, tokens, seconds: (Date.now() - t0) / 1000 };
      }
      const next = stream.next(cursor);
      const batch = collate(next.items, input.padId);
      const lr = lrAt(step, totalSteps, config);
      const { loss, gradNorm } = trainStep(model, opt, batch, lr, config.clip);
      if (!Number.isFinite(loss)) throw new DeterministicError(`train: loss is ${loss} at step ${step + 1} (lr ${lr}); lower train.lr or set train.clip`);
      step += 1;
      cursor = next.cursor;
      tokens += batch.realTokens;
      tokensSinceLog += batch.realTokens;
      history.push([step, loss]);
      if (step % config.log_every === 0 || step === totalSteps) {
        const now = Date.now();
        handlers.onProgress?.({ step, total: totalSteps, loss, lr, gradNorm, tokensPerSec: (tokensSinceLog * 1000) / Math.max(1, now - lastLogAt) });
        lastLogAt = now;
        tokensSinceLog = 0;
      }
      if (step === totalSteps) await handlers.onCheckpoint?.(state(true));
      else if (config.checkpoint_every > 0 && step % config.checkpoint_every === 0) await handlers.onCheckpoint?.(state(false));
      await yieldToEventLoop();
    }
    return { status: 'completed', step, cursor, lossHistory: history, tokens, seconds: (Date.now() - t0) / 1000 };
  } finally {
    opt.dispose();
  }
}
