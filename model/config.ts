import { DeterministicError } from '../errors/deterministic';
// Architecture of a GPT-2-style model. Field names follow the issue; HF config.json maps onto them in model/hf.ts.
export interface ModelConfig {
  n_layer: number;
  d_model: number;
  n_head: number;
  d_head: number;
  d_mlp: number;
  n_ctx: number;
  vocab: number;
  tied: boolean; // unembedding = embedding transposed
  ln_eps: number;
}

export const GPT2_SMALL: ModelConfig = {
  n_layer: 12, d_model: 768, n_head: 12, d_head: 64, d_mlp: 3072, n_ctx: 1024, vocab: 50257, tied: true, ln_eps: 1e-5,
};

export function validateModelConfig(c: ModelConfig, where = 'model'): ModelConfig {
  for (const key of ['n_layer', 'd_model', 'n_head', 'd_head', 'd_mlp', 'n_ctx', 'vocab'] as const) {
    const v = c[key];
    if (!Number.isInteger(v) || v <= 0) throw new DeterministicError(`${where}.${key}: expected a positive integer, got ${JSON.stringify(v)}`);
  }
  if (typeof c.tied !== 'boolean') throw new DeterministicError(`${where}.tied: expected a boolean, got ${JSON.stringify(c.tied)}`);
  if (!(c.ln_eps > 0)) throw new DeterministicError(`${where}.ln_eps: expected a positive number, got ${JSON.stringify(c.ln_eps)}`);
  return c;
}

export function parameterCount(c: ModelConfig): number {
  const hd = c.n_head * c.d_head;
  const block = 4 * c.d_model + c.d_model * 3 * hd + 3 * hd + hd * c.d_model + c.d_model + c.d_model * c.d_mlp + c.d_mlp + c.d_mlp * c.d_model + c.d_model;
  return c.vocab * c.d_model + c.n_ctx * c.d_model + c.n_layer * block + 2 * c.d_model + (c.tied ? 0 : c.vocab * c.d_model);
}
