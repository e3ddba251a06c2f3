// Writes a randomly initialised GPT-2 as a Hugging Face folder (config.json + model.safetensors, tied embeddings).
//   node dist/scripts/make-hf-gpt2.js --out DIR [--small] [--layers 2 --d-model 64 --heads 4 --vocab 50257 --n-ctx 64] [--seed 0]
// --small: GPT-2 small's shape (12 × 12 heads, d_model 768, 124 M parameters), as /work/gpt2-small-random.
import { initBackend } from '../model/engine';
import { GPT2 } from '../model/gpt2';
import { GPT2_SMALL, ModelConfig } from '../model/config';
import { saveHfFolder } from '../model/hf';

/** A random GPT-2 of this shape saved as an HF folder. */
export async function makeHfGpt2(out: string, config: ModelConfig, seed = 0): Promise<void> {
  const model = GPT2.init(config, seed);
  try {
    await saveHfFolder(model, out, { made_by: 'plasticity scripts/make-hf-gpt2', seed: String(seed) });
  } finally {
    model.dispose();
  }
}

export function tinyConfig(o: Partial<ModelConfig> = {}): ModelConfig {
  const d_model = o.d_model ?? 64;
  const n_head = o.n_head ?? 4;
  return { n_layer: 2, d_model, n_head, d_head: d_model / n_head, d_mlp: 4 * d_model, n_ctx: 64, vocab: 50257, tied: true, ln_eps: 1e-5, ...o };
}

if (require.main === module) {
  const arg = (name: string) => {
    const i = process.argv.indexOf(`--${name}`);
    return i >= 0 ? process.argv[i + 1] : undefined;
  };
  const num = (name: string) => (arg(name) === undefined ? undefined : Number(arg(name)));
  const out = arg('out');
  if (!out) {
    console.error('usage: make-hf-gpt2 --out DIR [--small] [--layers N --d-model D --heads H --vocab V --n-ctx T] [--seed S]');
    process.exit(2);
  }
  const d = num('d-model') ?? 64;
  const h = num('heads') ?? 4;
  const config = process.argv.includes('--small')
    ? GPT2_SMALL
    : tinyConfig({ n_layer: num('layers') ?? 2, d_model: d, n_head: h, d_head: d / h, d_mlp: 4 * d, vocab: num('vocab') ?? 50257, n_ctx: num('n-ctx') ?? 64 });
  initBackend('auto')
    .then(() => makeHfGpt2(out, config, num('seed') ?? 0))
    .then(() => console.log(`wrote ${out}: ${JSON.stringify(config)}`))
    .catch((e) => {
      console.error(e instanceof Error ? e.message : e);
      process.exit(1);
    });
}
