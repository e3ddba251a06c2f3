// Hugging Face GPT-2 folders (config.json + model.safetensors) ⇄ GPT2.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tf } from './engine';
import { ModelConfig, validateModelConfig } from './config';
import { GPT2, LM_HEAD, Params, WTE, paramShapes } from './gpt2';
import { NamedArray, parseSafetensors, serializeSafetensors } from './safetensors';
import { DeterministicError } from '../errors/deterministic';

const TANH_GELUS = ['gelu_new', 'gelu_pytorch_tanh', 'gelu_fast'];

/** Maps a HF GPT-2 config.json object to a ModelConfig, naming the file and field on error. */
export function modelConfigFromHf(hf: Record<string, unknown>, file = 'config.json'): ModelConfig {
  const num = (key: string, fallback?: number): number => {
    const v = hf[key] ?? fallback;
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new DeterministicError(`${file}: '${key}' must be a number, got ${JSON.stringify(hf[key])}`);
    return v;
  };
  const act = (hf.activation_function as string | undefined) ?? 'gelu_new';
  if (!TANH_GELUS.includes(act)) throw new DeterministicError(`${file}: activation_function '${act}' is not supported; expected one of ${TANH_GELUS.join(', ')}`);
  const d = num('n_embd');
  const h = num('n_head');
  const plasticity = (hf.plasticity ?? {}) as { d_head?: number };
  return validateModelConfig({
    n_layer: num('n_layer'),
    d_model: d,
    n_head: h,
    d_head: plasticity.d_head ?? d / h,
    d_mlp: (hf.n_inner as number | null | undefined) ?? 4 * d,
    n_ctx: num('n_positions', hf.n_ctx as number | undefined),
    vocab: num('vocab_size'),
    tied: (hf.tie_word_embeddings as boolean | undefined) ?? true,
    ln_eps: num('layer_norm_epsilon', 1e-5),
  }, file);
}

export function hfConfigFromModel(c: ModelConfig): Record<string, unknown> {
  return {
    architectures: ['GPT2LMHeadModel'],
    model_type: 'gpt2',
    activation_function: 'gelu_new',
    n_layer: c.n_layer,
    n_embd: c.d_model,
    n_head: c.n_head,
    n_inner: c.d_mlp,
    n_positions: c.n_ctx,
    n_ctx: c.n_ctx,
    vocab_size: c.vocab,
    layer_norm_epsilon: c.ln_eps,
    tie_word_embeddings: c.tied,
    resid_pdrop: 0, embd_pdrop: 0, attn_pdrop: 0,
    ...(c.d_head * c.n_head !== c.d_model ? { plasticity: { d_head: c.d_head } } : {}),
  };
}

/** Builds model parameters from named arrays with HF names (with or without the `transformer.` prefix). */
export function paramsFromArrays(c: ModelConfig, arrays: Record<string, NamedArray>, file = 'model.safetensors'): Params {
  const byName = new Map<string, NamedArray>();
  for (const [name, arr] of Object.entries(arrays)) {
    if (/\.attn\.(masked_)?bias$/.test(name)) continue; // causal-mask buffers of old HF exports
    byName.set(name.startsWith('transformer.') || name === LM_HEAD ? name : `transformer.${name}`, arr);
  }
  const params: Params = {};
  for (const [name, shape] of paramShapes(c)) {
    const arr = byName.get(name);
    if (!arr) throw new DeterministicError(`${file}: missing tensor '${name}' (expected shape [${shape}])`);
    if (arr.shape.join(',') !== shape.join(',')) throw new DeterministicError(`${file}: tensor '${name}' has shape [${arr.shape}], expected [${shape}]`);
    const value = tf.tensor(arr.data, shape);
    params[name] = tf.variable(value, true);
    value.dispose(); // the variable keeps its own reference; the tensor would pin the loaded weights after the first update
    byName.delete(name);
  }
  if (c.tied) byName.delete(LM_HEAD);
  if (byName.size) throw new DeterministicError(`${file}: unexpected tensors ${[...byName.keys()].slice(0, 5).join(', ')}${byName.size > 5 ? ', …' : ''}`);
  return params;
}

export async function modelToArrays(model: GPT2): Promise<Record<string, NamedArray>> {
  const out: Record<string, NamedArray> = {};
  for (const [name, shape] of paramShapes(model.config)) {
    out[name] = { shape, data: (await model.params[name].data()) as Float32Array };
  }
  return out;
}

export function isHfFolder(dir: string): boolean {
  return fs.existsSync(path.join(dir, 'config.json')) && fs.existsSync(path.join(dir, 'model.safetensors'));
}

export function loadHfFolder(dir: string): GPT2 {
  const configFile = path.join(dir, 'config.json');
  const weightsFile = path.join(dir, 'model.safetensors');
  for (const f of [configFile, weightsFile]) if (!fs.existsSync(f)) throw new DeterministicError(`model folder ${dir}: missing ${path.basename(f)}`);
  let hf: Record<string, unknown>;
  try {
    hf = JSON.parse(fs.readFileSync(configFile, 'utf8'));
  } catch (e) {
    throw new DeterministicError(`${configFile}: not valid JSON (${(e as Error).message})`);
  }
  const config = modelConfigFromHf(hf, configFile);
  const { tensors } = parseSafetensors(fs.readFileSync(weightsFile), weightsFile);
  return new GPT2(config, paramsFromArrays(config, tensors, weightsFile));
}

export async function saveHfFolder(model: GPT2, dir: string, metadata: Record<string, string> = {}): Promise<void> {
  fs.mkdirSync(dir, { recursive: true });
  const bytes = serializeSafetensors(await modelToArrays(model), { format: 'pt', ...metadata });
  fs.writeFileSync(path.join(dir, 'model.safetensors'), bytes);
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(hfConfigFromModel(model.config), null, 2) + '\n');
}

export { WTE };
