// What a model's token ids mean. ioi/tokenizer's Vocab covers the full GPT-2 vocabulary and compact ones (which
// always hold EOS); a small Hugging Face model such as the test fixture (vocab_size 1000) uses the GPT-2 ids below
// its vocab size as they are, which PrefixVocab adds here. Checkpoints store `number[] | null` (null = full GPT-2).
import { EOS_ID, GPT2_VOCAB_SIZE, Vocab } from '../ioi/tokenizer';

/** The part of Vocab the training and evaluation code needs. */
export interface ModelVocab {
  readonly size: number;
  readonly isFull: boolean;
  readonly padId: number;
  has(gpt2Id: number): boolean;
  fromGpt2(gpt2Id: number): number;
  toGpt2(modelId: number): number;
  describe(): string;
}

/** GPT-2 ids [0, size) used directly as model ids (no EOS unless size covers it); pad = the last id. */
export class PrefixVocab implements ModelVocab {
  readonly isFull = false;
  constructor(readonly size: number, readonly padId = size - 1) {
    if (!Number.isInteger(size) || size <= 0 || size > GPT2_VOCAB_SIZE) throw new Error(`vocab: prefix size must be in [1, ${GPT2_VOCAB_SIZE}], got ${size}`);
  }
  has(g: number): boolean {
    return Number.isInteger(g) && g >= 0 && g < this.size;
  }
  fromGpt2(g: number): number {
    if (!this.has(g)) throw new Error(`token ${g} is not in the ${this.describe()}`);
    return g;
  }
  toGpt2(m: number): number {
    if (!this.has(m)) throw new Error(`model id ${m} is outside the ${this.describe()} (expected an integer in [0, ${this.size}))`);
    return m;
  }
  describe(): string {
    return `GPT-2 id prefix vocabulary [0, ${this.size})`;
  }
}

/** The ids a model's vocabulary covers, as stored in plasticity.json: null = full GPT-2. */
export function vocabToJson(v: ModelVocab): number[] | null {
  if (v.isFull) return null;
  return Array.from({ length: v.size }, (_, i) => v.toGpt2(i));
}

/** Inverse of vocabToJson. `modelVocab` (the model's embedding rows) must equal the vocabulary size. */
export function vocabFromJson(json: unknown, modelVocab: number, where = 'vocab'): ModelVocab {
  let vocab: ModelVocab;
  if (json === null || json === 'gpt2') vocab = Vocab.full();
  else if (Array.isArray(json) && json.every((g, i) => g === i) && !json.includes(EOS_ID)) vocab = new PrefixVocab(json.length);
  else {
    try {
      vocab = Vocab.fromJSON(json);
    } catch (e) {
      throw new Error(`${where}: ${(e as Error).message}`);
    }
  }
  if (vocab.size !== modelVocab) throw new Error(`${where}: has ${vocab.size} tokens but the model has ${modelVocab} embedding rows`);
  return vocab;
}

/** Vocabulary of a Hugging Face folder: full GPT-2 for 50257 rows, else the id prefix (pad = eos_token_id if inside). */
export function hfVocab(vocabSize: number, eosTokenId?: unknown): ModelVocab {
  if (vocabSize === GPT2_VOCAB_SIZE) return Vocab.full();
  const pad = typeof eosTokenId === 'number' && Number.isInteger(eosTokenId) && eosTokenId >= 0 && eosTokenId < vocabSize ? eosTokenId : vocabSize - 1;
  return new PrefixVocab(vocabSize, pad);
}
