import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SearchAttributeType } from '@temporalio/common';
import { searchAttributeArgs, searchAttributeKeys } from '../../temporal/search-attributes';

test('the five plasticity search attributes with their types', () => {
  assert.deepEqual(
    searchAttributeKeys.map((key) => [key.name, key.type]),
    [
      ['PlasticityExperiment', SearchAttributeType.KEYWORD],
      ['PlasticityModel', SearchAttributeType.KEYWORD],
      ['PlasticityStage', SearchAttributeType.KEYWORD],
      ['PlasticityProgress', SearchAttributeType.DOUBLE],
      ['PlasticitySweep', SearchAttributeType.KEYWORD],
    ],
  );
});

test('start-dev arguments use the CLI type names', () => {
  assert.deepEqual(searchAttributeArgs(), [
    '--search-attribute', 'PlasticityExperiment=Keyword',
    '--search-attribute', 'PlasticityModel=Keyword',
    '--search-attribute', 'PlasticityStage=Keyword',
    '--search-attribute', 'PlasticityProgress=Double',
    '--search-attribute', 'PlasticitySweep=Keyword',
  ]);
});
