// The compare stage: read every stage's trace (and CMAP) JSON from the store, build the lineage comparison
// (tracing/compare.ts: corruption localisation, restoration, adjacent diffs) and store it; headline numbers go into
// the result's metrics. Pure JSON work, so it runs in-process on the cpu queue.
import type { ArtifactStore } from '../store/artifact-store';
import { compareStages, DEFAULT_THRESHOLDS } from '../tracing/compare';
import type { CmapPair, Interval, LineageComparison, StageTrace } from '../tracing/results';
import type { CompareStageInput } from '../contract/activities';
import type { StageOutput } from '../contract/lineage';
import type { ArtifactRef } from '../store/artifact-ref';
import { recordStage } from './cache';
import { mapErrors } from './errors';

export function compareActivity(openStore: (url: string) => ArtifactStore) {
  return async function compareStage(input: CompareStageInput): Promise<StageOutput> {
    return mapErrors(`stage ${input.stage}`, async () => {
      const startedAt = new Date().toISOString();
      const store = openStore(input.store);
      const readJson = async <T>(ref: ArtifactRef): Promise<T> => JSON.parse((await store.getBlob(ref)).toString('utf8')) as T;
      const stages: StageTrace[] = [];
      const cmap: CmapPair[] = [];
      for (const t of input.traces) {
        stages.push(await readJson<StageTrace>(t.trace));
        if (t.cmap) cmap.push(await readJson<CmapPair>(t.cmap));
      }
      const topK = [...new Set([...DEFAULT_THRESHOLDS.topK, input.topK])].sort((a, b) => a - b);
      const comparison = compareStages({ stages, roles: input.roles, ...(input.branches ? { branches: input.branches } : {}), cmap, thresholds: { topK } });
      const ref = await store.putBlob(Buffer.from(JSON.stringify(comparison, finiteOrNull)), 'compare');
      const output: StageOutput = {
        stage: input.stage,
        kind: 'compare',
        key: input.key,
        outputs: { compare: ref },
        artifacts: [ref],
        metrics: headline(comparison, input.topK),
        startedAt,
        finishedAt: new Date().toISOString(),
      };
      await recordStage(store, output);
      return output;
    });
  };
}

/** Small numbers for the workflow result and the CLI summary. */
export function headline(c: LineageComparison, topK: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (const s of c.stages) out[`logit_diff.${s.name}`] = s.metrics.logitDiff;
  const local = c.localisation?.byMethod[c.primaryMethod];
  if (local) out[`localisation.top${topK}_share`] = local.topShare[String(topK)];
  if (c.restoration) {
    out['restoration.behavioural'] = c.restoration.behavioural.fraction;
    const mech = c.restoration.mechanistic[c.primaryMethod];
    if (mech) {
      out['restoration.pearson'] = mech.pearson;
      out['restoration.corrupted_pearson'] = mech.corruptedPearson;
    }
  }
  // per branch (only when there are several: a one-branch lineage keeps the keys above alone)
  if (c.branches && c.branches.length > 1) {
    for (const b of c.branches) {
      out[`branch.${b.name}.ld_corrupted`] = b.restoration.behavioural.ldCorrupted;
      out[`branch.${b.name}.ld_retrained`] = b.restoration.behavioural.ldRetrained;
      out[`branch.${b.name}.localisation.top${topK}_share`] = b.localisation.topShare[String(topK)];
      out[`branch.${b.name}.restoration.behavioural`] = b.restoration.behavioural.fraction;
      out[`branch.${b.name}.restoration.pearson`] = b.restoration.mechanistic[b.method]?.pearson;
      if (b.faithfulness.retrained !== undefined) out[`branch.${b.name}.faithfulness.retrained`] = b.faithfulness.retrained;
      // each number's bootstrap interval over the prompts, as <key>.lo / <key>.hi
      const iv = b.intervals;
      const bounds: [string, Interval | undefined][] = [
        ['ld_corrupted', iv?.ldCorrupted], ['ld_retrained', iv?.ldRetrained], [`localisation.top${topK}_share`, iv?.topShare?.[String(topK)]],
        ['restoration.behavioural', iv?.behavioural], ['restoration.pearson', iv?.mechanistic], ['faithfulness.retrained', iv?.faithfulness?.retrained],
      ];
      for (const [key, i] of bounds) {
        if (!i) continue;
        out[`branch.${b.name}.${key}.lo`] = i.lo;
        out[`branch.${b.name}.${key}.hi`] = i.hi;
      }
    }
  }
  return Object.fromEntries(Object.entries(out).filter(([, v]) => typeof v === 'number' && Number.isFinite(v)));
}

function finiteOrNull(_key: string, value: unknown): unknown {
  return typeof value === 'number' && !Number.isFinite(value) ? null : value;
}
