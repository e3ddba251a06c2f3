// A deliberately changed lineage workflow for the replay test: it skips the config validation and goes straight
// to the stage cache. Replaying a real history against it must fail with a nondeterminism error.
import { proxyActivities, upsertSearchAttributes } from '@temporalio/workflow';
import type { LineageActivities } from '../../../activities';
import type { LineageInput } from '../../../contract/lineage';
import { experimentKey, modelKey } from '../../../temporal/search-attributes';

export async function lineageWorkflow(input: LineageInput): Promise<void> {
  upsertSearchAttributes([
    { key: experimentKey, value: input.config.name },
    { key: modelKey, value: 'changed' },
  ]);
  const cpu = proxyActivities<LineageActivities>({ taskQueue: input.queues.cpu, startToCloseTimeout: '1m' });
  await cpu.lookupStage({ stage: 'base', store: '', kind: 'base', parents: [], config: {}, codeVersion: input.codeVersion });
}
