// The 15 BABA IOI templates of Wang et al. / Redwood and their ABBA versions (docs/ioi-paper.md §5.1).
// [B] is the subject S (mentioned twice), [A] the indirect object IO (the answer, always the final slot).

export type IoiOrder = 'ABBA' | 'BABA';

export const BABA_TEMPLATES: readonly string[] = [
  'Then, [B] and [A] went to the [PLACE]. [B] gave a [OBJECT] to [A]',
  'Then, [B] and [A] had a lot of fun at the [PLACE]. [B] gave a [OBJECT] to [A]',
  'Then, [B] and [A] were working at the [PLACE]. [B] decided to give a [OBJECT] to [A]',
  'Then, [B] and [A] were thinking about going to the [PLACE]. [B] wanted to give a [OBJECT] to [A]',
  'Then, [B] and [A] had a long argument, and afterwards [B] said to [A]',
  'After [B] and [A] went to the [PLACE], [B] gave a [OBJECT] to [A]',
  'When [B] and [A] got a [OBJECT] at the [PLACE], [B] decided to give it to [A]',
  'When [B] and [A] got a [OBJECT] at the [PLACE], [B] decided to give the [OBJECT] to [A]',
  'While [B] and [A] were working at the [PLACE], [B] gave a [OBJECT] to [A]',
  'While [B] and [A] were commuting to the [PLACE], [B] gave a [OBJECT] to [A]',
  'After the lunch, [B] and [A] went to the [PLACE]. [B] gave a [OBJECT] to [A]',
  'Afterwards, [B] and [A] went to the [PLACE]. [B] gave a [OBJECT] to [A]',
  'Then, [B] and [A] had a long argument. Afterwards [B] said to [A]',
  'The [PLACE] [B] and [A] went to had a [OBJECT]. [B] gave it to [A]',
  'Friends [B] and [A] found a [OBJECT] at the [PLACE]. [B] gave it to [A]',
];

/** ABBA version: the first [B] and the first [A] swap, so IO is mentioned first. */
export function toAbba(baba: string): string {
  const b = baba.indexOf('[B]');
  const a = baba.indexOf('[A]');
  if (b < 0 || a < 0 || b > a) throw new Error(`toAbba: template must mention [B] before [A]: ${baba}`);
  return baba.slice(0, b) + '[A]' + baba.slice(b + 3, a) + '[B]' + baba.slice(a + 3);
}

export const ABBA_TEMPLATES: readonly string[] = BABA_TEMPLATES.map(toAbba);

export const N_TEMPLATES = BABA_TEMPLATES.length;

export function templateText(template: number, order: IoiOrder): string {
  if (!Number.isInteger(template) || template < 0 || template >= N_TEMPLATES) {
    throw new Error(`template must be an integer in [0, ${N_TEMPLATES}), got ${template}`);
  }
  return (order === 'ABBA' ? ABBA_TEMPLATES : BABA_TEMPLATES)[template];
}

/** The fillers of one rendering. `slots` fill the name placeholders before the answer, in text order. */
export interface TemplateFill {
  slots: readonly string[];
  answer: string;
  place: string;
  object: string;
}

/** Name roles ('A' | 'B') of the placeholders before the final answer slot, in text order. */
export function nameRoles(template: string): Array<'A' | 'B'> {
  const roles = [...template.matchAll(/\[(A|B)\]/g)].map((m) => m[1] as 'A' | 'B');
  if (!template.endsWith(' [A]')) throw new Error(`template must end with " [A]": ${template}`);
  return roles.slice(0, -1);
}

/**
 * Renders a template into {text (without the answer), answer (with its leading space)}.
 * Names are substituted by text order of the name slots, so an ABC corruption is just other slot values.
 */
export function renderTemplate(template: string, fill: TemplateFill): { text: string; answer: string } {
  if (!template.endsWith(' [A]')) throw new Error(`template must end with " [A]": ${template}`);
  const body = template.slice(0, -' [A]'.length);
  const roles = nameRoles(template);
  if (fill.slots.length !== roles.length) {
    throw new Error(`renderTemplate: template has ${roles.length} name slots, got ${fill.slots.length} names`);
  }
  let k = 0;
  const text = body
    .replace(/\[(A|B)\]/g, () => fill.slots[k++])
    .replace(/\[PLACE\]/g, fill.place)
    .replace(/\[OBJECT\]/g, fill.object);
  return { text, answer: ' ' + fill.answer };
}
