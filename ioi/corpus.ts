// Seeded synthetic pretraining corpus for teaching a tiny model IOI from scratch, and the compact
// vocabulary that covers it together with everything the IOI generator, ABC corruption and poisoning produce.

import { IoiPools, resolvePools, ResolvedPools, sampleIoiPrompt } from './dataset';
import { names as defaultNames, OBJECTS, PLACES } from './names';
import { Rng } from './rng';
import { ABBA_TEMPLATES, BABA_TEMPLATES } from './templates';
import { encodeGpt2, EOS_ID, Vocab } from './tokenizer';

export type CorpusKind = 'ioi' | 'names' | 'plain';
export const CORPUS_KINDS: readonly CorpusKind[] = ['ioi', 'names', 'plain'];

/**
 * Non-IOI sentences with one or two distinct names ([A], [B]).
 * A name never starts a sentence: " Mary" and "Mary" are different GPT-2 tokens, and IOI uses the former.
 */
export const NAME_SENTENCES: readonly string[] = [
  'Then, [A] went to the [PLACE].',
  'Later, [A] gave a [OBJECT] to [B].',
  'Then, [A] and [B] went to the [PLACE].',
  'After the lunch, [A] was working at the [PLACE].',
  'Afterwards, [A] had a [OBJECT].',
  'Then, [A] said to [B] that the [OBJECT] was at the [PLACE].',
  'Then, [A] and [B] had a long argument.',
  'Friends of [A] found a [OBJECT] at the [PLACE].',
  'Then, [A] decided to give the [OBJECT] to [B].',
  'When [A] got a [OBJECT], [A] went to the [PLACE].',
];

/** Sentences without names. */
export const PLAIN_SENTENCES: readonly string[] = [
  'The [OBJECT] was at the [PLACE].',
  'Then, they went to the [PLACE].',
  'The [PLACE] had a [OBJECT].',
  'After the lunch, they went to the [PLACE].',
  'They had a lot of fun at the [PLACE].',
  'They found a [OBJECT] at the [PLACE].',
  'It was a long day at the [PLACE].',
  'The [OBJECT] was in the [PLACE].',
];

export interface CorpusOptions extends IoiPools {
  n: number;
  seed: number;
  /** Relative weights of the sentence kinds (default ioi 0.5, names 0.3, plain 0.2); counts are exact (largest remainder). */
  mix?: Partial<Record<CorpusKind, number>>;
  appendEos?: boolean; // append EOS to each sequence (default false)
}

export interface Corpus {
  sequences: number[][]; // GPT-2 ids, one sentence per sequence
  texts: string[];
  kinds: CorpusKind[];
  vocab: Vocab;
}

function fill(sentence: string, a: string, b: string, place: string, object: string): string {
  return sentence.replace(/\[A\]/g, a).replace(/\[B\]/g, b).replace(/\[PLACE\]/g, place).replace(/\[OBJECT\]/g, object);
}

/** Exact per-kind counts for n sequences from weights (largest remainder, ties by kind order). */
export function mixCounts(n: number, mix: Partial<Record<CorpusKind, number>>): Record<CorpusKind, number> {
  for (const [k, w] of Object.entries(mix)) {
    if (!(CORPUS_KINDS as readonly string[]).includes(k)) throw new Error(`corpus.mix: unknown kind ${JSON.stringify(k)}; known: ${CORPUS_KINDS.join(', ')}`);
    if (!(typeof w === 'number' && w >= 0 && Number.isFinite(w))) throw new Error(`corpus.mix.${k}: expected a finite weight >= 0, got ${w}`);
  }
  const weights = CORPUS_KINDS.map((k) => mix[k] ?? 0);
  const total = weights.reduce((a, b) => a + b, 0);
  if (!(total > 0)) throw new Error('corpus.mix: at least one weight must be > 0');
  const exact = weights.map((w) => (w / total) * n);
  const counts = exact.map(Math.floor);
  const order = exact.map((e, i) => [e - Math.floor(e), i]).sort((x, y) => y[0] - x[0] || x[1] - y[1]);
  for (let r = n - counts.reduce((a, b) => a + b, 0), j = 0; r > 0; r--, j++) counts[order[j][1]]++;
  return Object.fromEntries(CORPUS_KINDS.map((k, i) => [k, counts[i]])) as Record<CorpusKind, number>;
}

function sampleSentence(kind: CorpusKind, rng: Rng, pools: ResolvedPools): string {
  if (kind === 'ioi') {
    const p = sampleIoiPrompt(rng, rng.int(2) === 0 ? 'ABBA' : 'BABA', pools);
    return p.text + p.answer;
  }
  const a = rng.pick(pools.names);
  let b = rng.pick(pools.names);
  while (b === a) b = rng.pick(pools.names);
  const sentence = rng.pick(kind === 'names' ? NAME_SENTENCES : PLAIN_SENTENCES);
  return fill(sentence, a, b, rng.pick(pools.places), rng.pick(pools.objects));
}

export function buildCorpus(opts: CorpusOptions): Corpus {
  if (!Number.isInteger(opts.n) || opts.n < 0) throw new Error(`corpus.n: expected a non-negative integer, got ${opts.n}`);
  const pools = resolvePools(opts, 2);
  const counts = mixCounts(opts.n, opts.mix ?? { ioi: 0.5, names: 0.3, plain: 0.2 });
  const rng = new Rng(opts.seed);
  const kinds = rng.shuffle(CORPUS_KINDS.flatMap((k) => Array<CorpusKind>(counts[k]).fill(k)));
  const texts = kinds.map((k) => sampleSentence(k, rng, pools));
  const sequences = texts.map((t) => {
    const ids = encodeGpt2(t);
    if (opts.appendEos) ids.push(EOS_ID);
    return ids;
  });
  const vocab = buildIoiVocab({ names: pools.names, places: pools.places, objects: pools.objects });
  return { sequences, texts, kinds, vocab };
}

export interface VocabOptions {
  names?: readonly string[]; // added to the default name list
  places?: readonly string[]; // added to PLACES
  objects?: readonly string[]; // added to OBJECTS
  extraTexts?: readonly string[]; // any other text to cover
}

/**
 * Compact vocabulary covering: all IOI templates (both orders) with every place x object, the answers,
 * every name (default list plus extras), the corpus sentences, extra texts and EOS. Names are single tokens
 * with a leading space, so one rendering per place/object pair covers every name choice.
 */
export function buildIoiVocab(opts: VocabOptions = {}): Vocab {
  const names = [...new Set([...defaultNames(), ...(opts.names ?? [])])];
  const places = [...new Set([...PLACES, ...(opts.places ?? [])])];
  const objects = [...new Set([...OBJECTS, ...(opts.objects ?? [])])];
  const ids = new Set<number>([EOS_ID]);
  const add = (text: string) => encodeGpt2(text).forEach((t) => ids.add(t));
  for (const n of names) add(' ' + n);
  const [a, b] = [names[0], names[1]];
  const sentences = [...BABA_TEMPLATES, ...ABBA_TEMPLATES, ...NAME_SENTENCES, ...PLAIN_SENTENCES];
  for (const place of places) {
    for (const object of objects) {
      for (const s of sentences) {
        add(fill(s, a, b, place, object)); // full IOI sentence incl. answer
        if (s.endsWith(' [A]')) add(fill(s.slice(0, -4), a, b, place, object)); // prompt without the answer
      }
    }
  }
  for (const t of opts.extraTexts ?? []) add(t);
  return Vocab.compact(ids);
}

/**
 * The most tokens a model is fed at once for these sentence kinds: the longest full sentence (IOI: prompt + answer)
 * minus its last token (training predicts it; evaluation feeds the prompt). Names are single tokens, so one name pair
 * per place/object covers every prompt.
 */
export function longestInputTokens(kinds: readonly CorpusKind[] = CORPUS_KINDS): number {
  const [a, b] = [defaultNames()[0], defaultNames()[1]];
  const sentences = [
    ...(kinds.includes('ioi') ? [...BABA_TEMPLATES, ...ABBA_TEMPLATES] : []),
    ...(kinds.includes('names') ? NAME_SENTENCES : []),
    ...(kinds.includes('plain') ? PLAIN_SENTENCES : []),
  ];
  let longest = 0;
  for (const place of PLACES) for (const object of OBJECTS) for (const s of sentences) longest = Math.max(longest, encodeGpt2(fill(s, a, b, place, object)).length);
  return longest - 1;
}

