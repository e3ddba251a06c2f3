// Name, place and object lists of Redwood's ioi_dataset.py (see docs/ioi-paper.md §5.2).
// Names are kept only if " Name" is a single GPT-2 token; places and objects may be multi-token.

import { singleToken } from './tokenizer';

/** The 109 names of the reference code, before the single-token filter. */
export const RAW_NAMES: readonly string[] = [
  'Aaron', 'Adam', 'Alan', 'Alex', 'Alice', 'Amy', 'Anderson', 'Andre', 'Andrew', 'Andy', 'Anna', 'Anthony',
  'Arthur', 'Austin', 'Blake', 'Brandon', 'Brian', 'Carter', 'Charles', 'Charlie', 'Christian', 'Christopher',
  'Clark', 'Cole', 'Collins', 'Connor', 'Crew', 'Crystal', 'Daniel', 'David', 'Dean', 'Edward', 'Elizabeth',
  'Emily', 'Eric', 'Eva', 'Ford', 'Frank', 'George', 'Georgia', 'Graham', 'Grant', 'Henry', 'Ian', 'Jack',
  'Jacob', 'Jake', 'James', 'Jamie', 'Jane', 'Jason', 'Jay', 'Jennifer', 'Jeremy', 'Jessica', 'John',
  'Jonathan', 'Jordan', 'Joseph', 'Joshua', 'Justin', 'Kate', 'Kelly', 'Kevin', 'Kyle', 'Laura', 'Leon',
  'Lewis', 'Lisa', 'Louis', 'Luke', 'Madison', 'Marco', 'Marcus', 'Maria', 'Mark', 'Martin', 'Mary',
  'Matthew', 'Max', 'Michael', 'Michelle', 'Morgan', 'Patrick', 'Paul', 'Peter', 'Prince', 'Rachel',
  'Richard', 'River', 'Robert', 'Roman', 'Rose', 'Ruby', 'Russell', 'Ryan', 'Sarah', 'Scott', 'Sean',
  'Simon', 'Stephen', 'Steven', 'Sullivan', 'Taylor', 'Thomas', 'Tyler', 'Victoria', 'Warren', 'William',
];

export const PLACES: readonly string[] = ['store', 'garden', 'restaurant', 'school', 'hospital', 'office', 'house', 'station'];

export const OBJECTS: readonly string[] = ['ring', 'kiss', 'bone', 'basketball', 'computer', 'necklace', 'drink', 'snack'];

/** True if " name" (with the leading space it has inside a sentence) is one GPT-2 token. */
export function isSingleTokenName(name: string): boolean {
  return singleToken(' ' + name) !== null;
}

/** The GPT-2 id of " name"; throws if the name is not a single token. */
export function nameToken(name: string): number {
  const id = singleToken(' ' + name);
  if (id === null) throw new Error(`name ${JSON.stringify(name)}: " ${name}" is not a single GPT-2 token`);
  return id;
}

let filtered: readonly string[] | null = null;

/** RAW_NAMES filtered to single-token names (computed once, lazily). */
export function names(): readonly string[] {
  if (filtered === null) filtered = Object.freeze(RAW_NAMES.filter(isSingleTokenName));
  return filtered;
}

/** Validates a user-supplied name pool: every entry a distinct single-token name, at least `min` of them. */
export function checkNamePool(pool: readonly string[], min: number, what = 'names'): void {
  if (new Set(pool).size !== pool.length) throw new Error(`${what}: duplicate names in ${JSON.stringify(pool)}`);
  for (const n of pool) nameToken(n);
  if (pool.length < min) throw new Error(`${what}: need at least ${min} names, got ${pool.length}`);
}
