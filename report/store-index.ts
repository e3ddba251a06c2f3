// Where a lineage's stored report is found by workflow id: reports/<id>.json names the report.html blob and the
// ReportData blob it was rendered from (so `plasticity report ID` works from the store alone, without Temporal).
import type { ArtifactStore } from '../store/artifact-store';
import type { ArtifactRef } from '../store/artifact-ref';
import { safeSegment } from '../store/safe-segment';

export const REPORT_INDEX_SCHEMA = 'plasticity.report-index' as const;

export interface ReportIndex {
  schema: typeof REPORT_INDEX_SCHEMA;
  workflowId: string;
  name: string;
  /** report.html (kind 'report'). */
  report: ArtifactRef;
  /** The ReportData JSON (kind 'report-data'). */
  data: ArtifactRef;
  createdAt: string;
}

/** reports/<id>.json; an id with other characters than letters, digits, '.', '_', '-' gets a cleaned, hashed name (store/safe-segment.ts), so two ids never share a report. */
export function reportIndexKey(workflowId: string): string {
  return `reports/${safeSegment(workflowId)}.json`;
}

export async function writeReportIndex(store: ArtifactStore, index: Omit<ReportIndex, 'schema'>): Promise<string> {
  const key = reportIndexKey(index.workflowId);
  await store.putJson(key, { schema: REPORT_INDEX_SCHEMA, ...index });
  return key;
}

/** The stored report of a workflow id, or undefined when the store has none. */
export async function readReportIndex(store: ArtifactStore, workflowId: string): Promise<ReportIndex | undefined> {
  const key = reportIndexKey(workflowId);
  const index = await store.getJson<ReportIndex>(key);
  if (!index) return undefined;
  if (index.schema !== REPORT_INDEX_SCHEMA || !index.report?.sha256 || !index.data?.sha256) {
    throw new Error(`${store.url}/${key}: expected a report index (schema '${REPORT_INDEX_SCHEMA}' with report and data refs)`);
  }
  return index;
}
