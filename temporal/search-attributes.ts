// Custom search attributes of plasticity workflows (filterable in the Temporal Web UI).
// Safe to import from workflow code: only @temporalio/common is used.
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import type { SearchAttributeKey } from '@temporalio/common/lib/search-attributes'; // type only: erased

/** A typed search-attribute key of any type. */
export type AnySearchAttributeKey = SearchAttributeKey<SearchAttributeType>;

export const experimentKey = defineSearchAttributeKey('PlasticityExperiment', SearchAttributeType.KEYWORD);
export const modelKey = defineSearchAttributeKey('PlasticityModel', SearchAttributeType.KEYWORD);
export const stageKey = defineSearchAttributeKey('PlasticityStage', SearchAttributeType.KEYWORD);
export const progressKey = defineSearchAttributeKey('PlasticityProgress', SearchAttributeType.DOUBLE);
/** On a sweep's parent workflow and on each of its child lineages: the sweep's workflow id. */
export const sweepKey = defineSearchAttributeKey('PlasticitySweep', SearchAttributeType.KEYWORD);

/** All keys, e.g. for registering them on a server. */
export const searchAttributeKeys: readonly AnySearchAttributeKey[] = [
  experimentKey,
  modelKey,
  stageKey,
  progressKey,
  sweepKey,
];

// Type names as the `temporal` CLI spells them.
const cliTypeNames: Record<SearchAttributeType, string> = {
  TEXT: 'Text',
  KEYWORD: 'Keyword',
  INT: 'Int',
  DOUBLE: 'Double',
  BOOL: 'Bool',
  DATETIME: 'Datetime',
  KEYWORD_LIST: 'KeywordList',
};

/** `--search-attribute Name=Type` pairs for `temporal server start-dev`. */
export function searchAttributeArgs(keys: readonly AnySearchAttributeKey[] = searchAttributeKeys): string[] {
  return keys.flatMap((key) => ['--search-attribute', `${key.name}=${cliTypeNames[key.type]}`]);
}
