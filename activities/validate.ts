// The workflow's first activity: re-validate the config it was given (the worker's schema is the authority) and
// check what it refers to — the model folder's files and the artifact store. Every failure is non-retryable
// ('InvalidConfig') and names the field.
import { checkConfigResources } from '../config/check';
import { parseConfig } from '../config/load';
import type { ArtifactStore } from '../store/artifact-store';
import type { ValidateConfigInput, ValidateConfigResult } from '../contract/activities';
import { mapErrors } from './errors';

export function validateConfigActivity(openStore: (spec?: string) => ArtifactStore) {
  return async function validateConfig(input: ValidateConfigInput): Promise<ValidateConfigResult> {
    return mapErrors('validateConfig', async () => {
      const config = parseConfig(input.config, { source: '(workflow input)' });
      const store = await checkConfigResources(config, openStore);
      return { storeUrl: store.url };
    });
  };
}
