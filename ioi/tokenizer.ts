// GPT-2 BPE (r50k_base) plus the Vocab that maps GPT-2 token ids to model ids.
// A real GPT-2 uses the full vocabulary (identity map); a tiny model trained from scratch uses a compact
// vocabulary: the sorted GPT-2 ids its data can produce, mapped to the dense range [0, n).

interface Bpe {
  encode(text: string): number[];
  decode(ids: Iterable<number>): string;
}
// The package's typings are only reachable through "exports", which moduleResolution "node" ignores.
// eslint-disable-next-line @typescript-eslint/no-var-requires
const bpe: Bpe = require('gpt-tokenizer/encoding/r50k_base');

export const GPT2_VOCAB_SIZE = 50257;
/** <|endoftext|>; also used as the pad token (as Redwood/TransformerLens do for IOI). */
export const EOS_ID = 50256;

/** Serialised form stored in checkpoints: the compact vocabulary's sorted GPT-2 ids, or 'gpt2' for the full one. */
export type VocabJson = number[] | 'gpt2';

export class Vocab {
  /** Sorted GPT-2 ids, index = model id; null for the full (identity) vocabulary. */
  private readonly ids: readonly number[] | null;
  private readonly index: Int32Array | null; // GPT-2 id -> model id, -1 if absent
  readonly size: number;
  private static readonly FULL = new Vocab(null);

  private constructor(ids: number[] | null) {
    this.ids = ids;
    if (ids === null) {
      this.index = null;
      this.size = GPT2_VOCAB_SIZE;
    } else {
      this.index = new Int32Array(GPT2_VOCAB_SIZE).fill(-1);
      ids.forEach((g, m) => (this.index![g] = m));
      this.size = ids.length;
    }
  }

  /** Identity vocabulary of real GPT-2 (50257 tokens). */
  static full(): Vocab {
    return Vocab.FULL;
  }

  /** Compact vocabulary from any GPT-2 ids (deduplicated, sorted; EOS is always added so padding works). */
  static compact(gpt2Ids: Iterable<number>): Vocab {
    const set = new Set<number>([EOS_ID]);
    for (const g of gpt2Ids) {
      if (!Number.isInteger(g) || g < 0 || g >= GPT2_VOCAB_SIZE) {
        throw new Error(`Vocab.compact: GPT-2 id must be an integer in [0, ${GPT2_VOCAB_SIZE}), got ${g}`);
      }
      set.add(g);
    }
    const ids = [...set].sort((a, b) => a - b);
    return ids.length === GPT2_VOCAB_SIZE ? Vocab.FULL : new Vocab(ids);
  }

  static fromJSON(json: unknown): Vocab {
    if (json === 'gpt2') return Vocab.FULL;
    if (!Array.isArray(json)) throw new Error(`vocab: expected 'gpt2' or an array of GPT-2 ids, got ${typeof json}`);
    for (let i = 1; i < json.length; i++) {
      if (!(json[i] > json[i - 1])) throw new Error(`vocab: ids must be strictly increasing (index ${i}: ${json[i - 1]} then ${json[i]})`);
    }
    if (!json.includes(EOS_ID)) throw new Error(`vocab: compact vocabulary must contain EOS ${EOS_ID}`);
    return Vocab.compact(json as number[]);
  }

  toJSON(): VocabJson {
    return this.ids === null ? 'gpt2' : [...this.ids];
  }

  get isFull(): boolean {
    return this.ids === null;
  }

  /** Model id of EOS, the pad token. */
  get padId(): number {
    return this.fromGpt2(EOS_ID);
  }

  has(gpt2Id: number): boolean {
    if (!Number.isInteger(gpt2Id) || gpt2Id < 0 || gpt2Id >= GPT2_VOCAB_SIZE) return false;
    return this.index === null || this.index[gpt2Id] >= 0;
  }

  /** GPT-2 id -> model id; throws if the token is not in this vocabulary. */
  fromGpt2(gpt2Id: number): number {
    if (!this.has(gpt2Id)) {
      const what = Number.isInteger(gpt2Id) && gpt2Id >= 0 && gpt2Id < GPT2_VOCAB_SIZE ? ` (${JSON.stringify(bpe.decode([gpt2Id]))})` : '';
      throw new Error(`token ${gpt2Id}${what} is not in the ${this.describe()}`);
    }
    return this.index === null ? gpt2Id : this.index[gpt2Id];
  }

  /** Model id -> GPT-2 id. */
  toGpt2(modelId: number): number {
    if (!Number.isInteger(modelId) || modelId < 0 || modelId >= this.size) {
      throw new Error(`model id ${modelId} is outside the ${this.describe()} (expected an integer in [0, ${this.size}))`);
    }
    return this.ids === null ? modelId : this.ids[modelId];
  }

  describe(): string {
    return this.ids === null ? 'full GPT-2 vocabulary' : `compact vocabulary of ${this.size} tokens`;
  }
}

/** Raw GPT-2 BPE. */
export function encodeGpt2(text: string): number[] {
  return bpe.encode(text);
}

export function decodeGpt2(ids: Iterable<number>): string {
  return bpe.decode(ids);
}

/** The GPT-2 id of `text` if it is exactly one token, else null. */
export function singleToken(text: string): number | null {
  const ids = bpe.encode(text);
  return ids.length === 1 ? ids[0] : null;
}

/** Text -> model ids; throws naming the text and token if a token is outside the vocabulary. */
export function encodeText(text: string, vocab: Vocab = Vocab.full()): number[] {
  const ids = bpe.encode(text);
  if (vocab.isFull) return ids;
  return ids.map((g) => {
    if (!vocab.has(g)) {
      throw new Error(`encodeText: token ${g} (${JSON.stringify(bpe.decode([g]))}) of text ${JSON.stringify(text)} is not in the ${vocab.describe()}`);
    }
    return vocab.fromGpt2(g);
  });
}

/** Model ids -> text. */
export function decodeIds(ids: Iterable<number>, vocab: Vocab = Vocab.full()): string {
  return bpe.decode(Array.from(ids, (m) => vocab.toGpt2(m)));
}

export function toGpt2Id(modelId: number, vocab: Vocab): number {
  return vocab.toGpt2(modelId);
}

export function fromGpt2Id(gpt2Id: number, vocab: Vocab): number {
  return vocab.fromGpt2(gpt2Id);
}
