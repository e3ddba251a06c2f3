// The default experiment's base model: a small GPT-2 pretrained from scratch on the seeded synthetic corpus until it
// does IOI (held-out logit difference clearly positive, pairwise accuracy high). Shared with the experiment config.
import type { ArchInput, DataSpecInput, TrainConfigInput } from './config';

export interface BaseModelDefaults {
  arch: ArchInput;
  initSeed: number;
  train: TrainConfigInput;
  corpus: DataSpecInput & { kind: 'corpus' };
}

export const DEFAULT_BASE: BaseModelDefaults = {
  arch: { n_layer: 2, d_model: 64, n_head: 4, d_mlp: 256, n_ctx: 32, tied: true },
  initSeed: 0,
  train: {
    optimizer: 'adamw', lr: 3e-3, weight_decay: 0.01, batch_size: 32, steps: 1500,
    schedule: 'cosine', warmup: 100, min_lr_ratio: 0.1, clip: 1, loss: 'sentence', seed: 0,
    checkpoint_every: 500, log_every: 50,
  },
  corpus: { kind: 'corpus', n: 20000, seed: 1, mix: { ioi: 0.6, names: 0.25, plain: 0.15 }, eval_n: 400 },
};
