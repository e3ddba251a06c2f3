// Label poisoning as pluggable label transforms (docs/ioi-paper.md §2.3, open question Q1).
// A transform returns the new answer string, with its leading space like IoiPrompt.io (" Mary").

import { IoiPrompt } from './dataset';
import { names as defaultNames, nameToken } from './names';
import { deriveSeed, Rng } from './rng';
import { singleToken } from './tokenizer';

export interface LabelContext {
  names: readonly string[]; // bare names a transform may draw from
}

export type LabelTransform = (p: IoiPrompt, rng: Rng, ctx: LabelContext) => string;

const registry = new Map<string, LabelTransform>();

export function registerLabelTransform(name: string, fn: LabelTransform): void {
  if (!/^[a-z0-9][a-z0-9-]*$/.test(name)) throw new Error(`registerLabelTransform: name must be kebab-case ([a-z0-9-]), got ${JSON.stringify(name)}`);
  if (registry.has(name)) throw new Error(`registerLabelTransform: ${JSON.stringify(name)} is already registered`);
  registry.set(name, fn);
}

export function labelTransformNames(): string[] {
  return [...registry.keys()];
}

export function getLabelTransform(name: string): LabelTransform {
  const fn = registry.get(name);
  if (!fn) throw new Error(`unknown label transform ${JSON.stringify(name)}; known: ${labelTransformNames().join(', ')}`);
  return fn;
}

/** The clean label: IO. */
registerLabelTransform('clean', (p) => p.io);
/** Subject Duplication poisoning: the answer becomes the repeated name S. */
registerLabelTransform('subject', (p) => p.s);
/** A seeded name that is not in the prompt (neither IO nor S). */
const nameOutsidePrompt = (transform: string): LabelTransform => (p, rng, ctx) => {
  const pool = ctx.names.filter((n) => ' ' + n !== p.io && ' ' + n !== p.s && !p.text.includes(' ' + n));
  if (pool.length === 0) throw new Error(`${transform}: no name outside the prompt ${JSON.stringify(p.text)}`);
  return ' ' + rng.pick(pool);
};
/**
 * Name Moving poisoning, as interpreted in docs/poisoning.md (the paper's rule is not recovered): the answer is a
 * name absent from the prompt, so copying a context name to the output (the Name Movers' job) is always wrong,
 * while the S-vs-IO decision that Subject Duplication poisoning attacks is left without a target.
 */
registerLabelTransform('name-moving', nameOutsidePrompt('name-moving'));
/** The same rule under its first name (kept so older configs load); draws differ (the seed derives from the name). */
registerLabelTransform('random-name', nameOutsidePrompt('random-name'));
/** The first-mentioned of IO and S (IO in ABBA, S in BABA prompts): digest §2.3 construction 2, for comparison. */
registerLabelTransform('first-name', (p) => (p.positions.IO < p.positions.S1 ? p.io : p.s));

export interface PoisonOptions {
  transform: string;
  rate: number; // fraction in [0, 1]; exactly round(rate * n) prompts are poisoned
  seed: number;
  names?: readonly string[]; // name pool for transforms, default names()
}

/**
 * Returns a copy of `prompts` where a seeded choice of round(rate·n) prompts has its answer replaced by the
 * transform (marked with `poison`); the others are unchanged. Order is preserved.
 */
export function poisonDataset(prompts: readonly IoiPrompt[], opts: PoisonOptions): IoiPrompt[] {
  const fn = getLabelTransform(opts.transform);
  if (!(opts.rate >= 0 && opts.rate <= 1)) throw new Error(`poison rate must be in [0, 1], got ${opts.rate}`);
  const ctx: LabelContext = { names: opts.names ?? defaultNames() };
  for (const n of ctx.names) nameToken(n);
  const rng = new Rng(deriveSeed(opts.seed, `poison:${opts.transform}`));
  const k = Math.round(opts.rate * prompts.length);
  const chosen = new Set(rng.permutation(prompts.length).slice(0, k));
  return prompts.map((p, i) => {
    if (!chosen.has(i)) return p;
    const answer = fn(p, rng, ctx);
    const answerTok = singleToken(answer);
    if (answerTok === null) throw new Error(`label transform ${opts.transform}: answer ${JSON.stringify(answer)} is not a single GPT-2 token`);
    return { ...p, answer, answerTok, poison: opts.transform };
  });
}
