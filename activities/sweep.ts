// Activities of the sweep workflow: the stage keys each point would compute (for scheduling points that share a
// stage one after the other), and the aggregate report (HTML, JSON, CSV) of the completed points.
import type { ArtifactStore } from '../store/artifact-store';
import type { SweepReportInput, SweepResult, SweepStageKeys, SweepStageKeysInput } from '../contract/sweep';
import { collectReportData } from '../report/collect';
import type { ReportData } from '../report/data';
import { aggregateSweep, sweepCsv, type SweepPointData } from '../report/sweep-aggregate';
import { renderSweepReport } from '../report/sweep-render';
import { mapErrors } from './errors';
import { missingStageKeys } from '../lineage/dry-run';

export const sweepIndexKey = (sweepId: string) => `sweeps/${sweepId.replace(/[^A-Za-z0-9._-]+/g, '_')}.json`;

export function sweepActivities(store: (spec?: string) => ArtifactStore) {
  return {
    async sweepStageKeys(input: SweepStageKeysInput): Promise<SweepStageKeys[]> {
      return mapErrors('sweepStageKeys', async () =>
        Promise.all(input.points.map(async (p) => ({ index: p.index, missing: await missingStageKeys(store(p.config.store), p.config, input.codeVersion) }))),
      );
    },
    async sweepReport(input: SweepReportInput): Promise<Pick<SweepResult, 'report' | 'json' | 'csv' | 'storeUrl'>> {
      return mapErrors('sweepReport', async () => {
        const first = input.configs[0];
        const s = store(input.points.find((p) => p.result)?.result?.storeUrl ?? first?.config.store);
        const reports = new Map<number, ReportData>();
        const points: SweepPointData[] = [];
        for (const p of input.points) {
          const cfg = input.configs.find((c) => c.index === p.index);
          points.push({
            index: p.index, label: p.label, overrides: cfg?.overrides ?? [], status: p.status, headline: p.result?.headline ?? {},
            ...(p.workflowId ? { workflowId: p.workflowId } : {}), ...(p.result?.report ? { reportUri: p.result.report.uri } : {}),
          });
          if (p.result) reports.set(p.index, await collectReportData(s, { result: p.result, workflowId: p.workflowId, config: cfg?.config }));
        }
        const data = aggregateSweep(input.name, points, reports, input.sweepId);
        const json = await s.putBlob(Buffer.from(JSON.stringify(data)), 'sweep-data');
        const csv = await s.putBlob(Buffer.from(sweepCsv(data), 'utf8'), 'sweep-csv');
        const report = await s.putBlob(Buffer.from(renderSweepReport(data), 'utf8'), 'sweep-report');
        if (input.sweepId) await s.putJson(sweepIndexKey(input.sweepId), { schema: 'plasticity.sweep-index', sweepId: input.sweepId, name: input.name, report, json, csv, createdAt: data.generatedAt });
        return { report, json, csv, storeUrl: s.url };
      });
    },
  };
}
