// The report stage: render the lineage's self-contained HTML report (report/publish.ts) from what the
// workflow knows and store it (and its data) in the artifact store; the workflow result links to it.
import { Context } from '@temporalio/activity';
import { buildAndStoreReportWithData } from '../report/publish';
import type { ArtifactStore } from '../store/artifact-store';
import { connectionSettings, workflowUiUrl } from '../temporal/connection';
import type { ReportStageInput, ReportStageResult } from '../contract/activities';
import { mapErrors } from './errors';

export function reportActivity(openStore: (url: string) => ArtifactStore) {
  return async function reportStage(input: ReportStageInput): Promise<ReportStageResult> {
    return mapErrors('stage report', async () => {
      const { store: storeUrl, ...rest } = input;
      const workflowId = Context.current().info.workflowExecution?.workflowId;
      let uiUrl: string | undefined;
      try {
        uiUrl = workflowId ? workflowUiUrl(connectionSettings(), workflowId) : undefined;
      } catch {
        uiUrl = undefined; // unusable TEMPORAL_* settings only cost the link
      }
      const stored = await buildAndStoreReportWithData(openStore(storeUrl), { ...rest, workflowId, uiUrl });
      return { report: stored.report, data: stored.data };
    });
  };
}
