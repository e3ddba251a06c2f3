// Where a lineage's stored report is found by workflow id: reports/<id>.json names the report.html blob and the
// ReportData blob it was rendered from (so `plasticity report ID` works from the store alone, without Temporal).
import type { ArtifactStore } from '../store/artifact-store';
import type { ArtifactRef } from '../shared/types';

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

/** reports/<id>.json; ids are reduced to letters, digits, '.', '_' and '-' so any id is a valid store key. */
export function reportIndexKey(workflowId: string): string {
  const safe = workflowId.replace(/[^A-Za-z0-9._-]+/g, '_').replace(/^[._]+/, '');
  if (!safe) throw new Error(`report index: workflow id ${JSON.stringify(workflowId)} has no usable characters`);
  return `reports/${safe}.json`;
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
