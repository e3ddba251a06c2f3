// Seeded IOI prompt generator (Redwood gen_prompt_uniform style), ABC corruption and disjoint train/test splits.

import { deriveSeed, Rng } from './rng';
import { checkNamePool, nameToken, names as defaultNames, OBJECTS, PLACES } from './names';
import { IoiOrder, N_TEMPLATES, nameRoles, renderTemplate, templateText } from './templates';
import { encodeGpt2 } from './tokenizer';

/** Token indices in `tokens` (no BOS): first IO, first S, last S, S1+1, and the last prompt token. -1 if absent. */
export interface IoiPositions {
  IO: number;
  S1: number;
  S2: number;
  S1p1: number;
  END: number;
}

/** 'other' only for user prompts whose name order cannot be read off (prompts-file.ts). */
export type PromptOrder = IoiOrder | 'other';

/**
 * One IOI prompt. Strings `io`, `s` and `answer` carry the leading space they have in the sentence
 * (" Mary"), so `text + answer` is the full sentence. Token ids are GPT-2 ids (map through a Vocab for models).
 */
export interface IoiPrompt {
  text: string; // prompt without the answer
  answer: string; // training target: io, unless a label transform changed it
  io: string;
  s: string;
  template: number; // index into BABA_TEMPLATES; for user prompts a group index by token length
  order: PromptOrder;
  tokens: number[]; // GPT-2 ids of text
  ioTok: number;
  sTok: number;
  answerTok: number;
  positions: IoiPositions;
  place: string;
  object: string;
  poison?: string; // name of the label transform applied, if any
  source?: string; // file:line for user prompts
}

export interface IoiPools {
  templates?: readonly number[]; // template indices, default all 15
  names?: readonly string[]; // default names() (the single-token filtered list)
  places?: readonly string[];
  objects?: readonly string[];
}

/** Pools with defaults filled in and validated. */
export interface ResolvedPools {
  templates: readonly number[];
  names: readonly string[];
  places: readonly string[];
  objects: readonly string[];
}

export function resolvePools(p: IoiPools, minNames = 2): ResolvedPools {
  const templates = p.templates ?? Array.from({ length: N_TEMPLATES }, (_, i) => i);
  if (templates.length === 0) throw new Error('templates: need at least one template index');
  for (const t of templates) templateText(t, 'BABA'); // validates the index
  const names = p.names ?? defaultNames();
  checkNamePool(names, minNames);
  const places = p.places ?? PLACES;
  const objects = p.objects ?? OBJECTS;
  if (places.length === 0) throw new Error('places: need at least one place');
  if (objects.length === 0) throw new Error('objects: need at least one object');
  return { templates, names, places, objects };
}

/** Positions of io/s tokens in `tokens` (non-strict: -1 where a name is absent). */
export function findPositions(tokens: readonly number[], ioTok: number, sTok: number): IoiPositions {
  const IO = tokens.indexOf(ioTok);
  const S1 = tokens.indexOf(sTok);
  const S2 = tokens.lastIndexOf(sTok);
  return { IO, S1, S2, S1p1: S1 < 0 ? -1 : S1 + 1, END: tokens.length - 1 };
}

/** Builds one prompt from a template; checks that IO occurs once and S twice in the tokens. */
export function makePrompt(template: number, order: IoiOrder, io: string, s: string, place: string, object: string): IoiPrompt {
  if (io === s) throw new Error(`makePrompt: IO and S must differ, both are ${JSON.stringify(io)}`);
  const tpl = templateText(template, order);
  const slots = nameRoles(tpl).map((r) => (r === 'A' ? io : s));
  const { text, answer } = renderTemplate(tpl, { slots, answer: io, place, object });
  const tokens = encodeGpt2(text);
  const ioTok = nameToken(io);
  const sTok = nameToken(s);
  const positions = findPositions(tokens, ioTok, sTok);
  const count = (t: number) => tokens.filter((x) => x === t).length;
  if (count(ioTok) !== 1 || count(sTok) !== 2) {
    throw new Error(`makePrompt: expected IO once and S twice in the tokens of ${JSON.stringify(text)}, got ${count(ioTok)} and ${count(sTok)}`);
  }
  return { text, answer, io: ' ' + io, s: ' ' + s, template, order, tokens, ioTok, sTok, answerTok: ioTok, positions, place, object };
}

/** One uniformly drawn prompt of the given order (template, two distinct names, place, object). */
export function sampleIoiPrompt(rng: Rng, order: IoiOrder, pools: ResolvedPools): IoiPrompt {
  const template = rng.pick(pools.templates);
  const io = rng.pick(pools.names);
  let s = rng.pick(pools.names);
  while (s === io) s = rng.pick(pools.names);
  return makePrompt(template, order, io, s, rng.pick(pools.places), rng.pick(pools.objects));
}

/** Orders for n prompts: exactly half ABBA and half BABA (the odd one random), shuffled; or i.i.d. if not balanced. */
function drawOrders(n: number, rng: Rng, balanced: boolean): IoiOrder[] {
  if (!balanced) return Array.from({ length: n }, () => (rng.int(2) === 0 ? 'ABBA' : 'BABA'));
  const orders: IoiOrder[] = [];
  for (let i = 0; i < n - (n % 2); i++) orders.push(i % 2 === 0 ? 'ABBA' : 'BABA');
  if (n % 2 === 1) orders.push(rng.int(2) === 0 ? 'ABBA' : 'BABA');
  return rng.shuffle(orders);
}

function checkCount(n: number, what: string): void {
  if (!Number.isInteger(n) || n < 0) throw new Error(`${what}: expected a non-negative integer, got ${n}`);
}

export interface GenerateIoiOptions extends IoiPools {
  n: number;
  seed: number;
  balanced?: boolean; // default true: exactly n/2 ABBA and n/2 BABA
}

export function generateIoi(opts: GenerateIoiOptions): IoiPrompt[] {
  checkCount(opts.n, 'generateIoi.n');
  const pools = resolvePools(opts, 2);
  const rng = new Rng(opts.seed);
  return drawOrders(opts.n, rng, opts.balanced ?? true).map((order) => sampleIoiPrompt(rng, order, pools));
}

/**
 * p_ABC corruption: the three name mentions before the answer (IO, S1, S2 in text order) become three fresh
 * distinct names, none equal to IO or S. Template, order, place, object, positions and labels are unchanged.
 */
export function toAbc(prompt: IoiPrompt, rng: Rng, namePool: readonly string[] = defaultNames()): IoiPrompt {
  if (prompt.order === 'other' || prompt.template < 0) {
    throw new Error(`toAbc: needs a generated prompt (template and order), got template ${prompt.template} order ${prompt.order}`);
  }
  const pool = namePool.filter((n) => ' ' + n !== prompt.io && ' ' + n !== prompt.s);
  if (pool.length < 3) throw new Error(`toAbc: need at least 3 names other than IO and S, got ${pool.length}`);
  const fresh: string[] = [];
  while (fresh.length < 3) {
    const n = rng.pick(pool);
    if (!fresh.includes(n)) fresh.push(n);
  }
  const tpl = templateText(prompt.template, prompt.order);
  const { text } = renderTemplate(tpl, { slots: fresh, answer: prompt.io.slice(1), place: prompt.place, object: prompt.object });
  const tokens = encodeGpt2(text);
  if (tokens.length !== prompt.tokens.length) {
    throw new Error(`toAbc: corrupted prompt ${JSON.stringify(text)} has ${tokens.length} tokens, clean has ${prompt.tokens.length}`);
  }
  return { ...prompt, text, tokens, positions: { ...prompt.positions } };
}

/** ABC versions of a whole dataset, seeded (seed derived from `seed` and the label 'abc'). */
export function abcDataset(prompts: readonly IoiPrompt[], seed: number, namePool?: readonly string[]): IoiPrompt[] {
  const rng = new Rng(deriveSeed(seed, 'abc'));
  return prompts.map((p) => toAbc(p, rng, namePool));
}

export interface SplitIoiOptions extends IoiPools {
  nTrain: number;
  nTest: number;
  seed: number;
  balanced?: boolean;
  /** Names used only by the test set: a count (drawn from the pool) or an explicit list. Train never sees them. */
  holdoutNames?: number | readonly string[];
  /** Give up after this many consecutive train draws that collide with the test set (default 10000). */
  maxRejects?: number;
}

export interface IoiSplit {
  train: IoiPrompt[];
  test: IoiPrompt[];
  holdoutNames: string[];
}

/** Train/test prompt sets with no prompt text in both. With holdoutNames, test uses only held-out names. */
export function splitIoi(opts: SplitIoiOptions): IoiSplit {
  checkCount(opts.nTrain, 'splitIoi.nTrain');
  checkCount(opts.nTest, 'splitIoi.nTest');
  const pools = resolvePools(opts, 2);
  const balanced = opts.balanced ?? true;
  let holdout: string[] = [];
  if (typeof opts.holdoutNames === 'number') {
    checkCount(opts.holdoutNames, 'splitIoi.holdoutNames');
    holdout = new Rng(deriveSeed(opts.seed, 'holdout')).shuffle([...pools.names]).slice(0, opts.holdoutNames);
  } else if (opts.holdoutNames) {
    holdout = [...opts.holdoutNames];
    const missing = holdout.filter((n) => !pools.names.includes(n));
    if (missing.length) throw new Error(`splitIoi.holdoutNames: not in the name pool: ${missing.join(', ')}`);
  }
  const testPools = holdout.length ? { ...pools, names: holdout } : pools;
  const trainPools = holdout.length ? { ...pools, names: pools.names.filter((n) => !holdout.includes(n)) } : pools;
  if (holdout.length) {
    checkNamePool(testPools.names, 2, 'splitIoi.holdoutNames (test names)');
    checkNamePool(trainPools.names, 2, 'splitIoi train names (pool minus holdout)');
  }

  const testRng = new Rng(deriveSeed(opts.seed, 'test'));
  const test = drawOrders(opts.nTest, testRng, balanced).map((o) => sampleIoiPrompt(testRng, o, testPools));
  const testTexts = new Set(test.map((p) => p.text));

  const trainRng = new Rng(deriveSeed(opts.seed, 'train'));
  const maxRejects = opts.maxRejects ?? 10000;
  const train = drawOrders(opts.nTrain, trainRng, balanced).map((order) => {
    for (let rejects = 0; ; rejects++) {
      const p = sampleIoiPrompt(trainRng, order, trainPools);
      if (!testTexts.has(p.text)) return p;
      if (rejects >= maxRejects) {
        throw new Error(`splitIoi: ${maxRejects} consecutive train prompts collided with the test set; too few distinct prompts (more names/templates or a smaller nTest)`);
      }
    }
  });
  return { train, test, holdoutNames: holdout };
}
