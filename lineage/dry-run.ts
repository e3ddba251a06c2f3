// A dry run of the lineage: lineage/stages.ts `runLineageStages` itself, with a runner whose cache lookups are the
// real ones (activities/cache.ts) and whose train/trace/compare/report calls compute nothing but return placeholder
// outputs. So the stage list, each stage's key and whether the store holds it come from the very code the workflow
// runs. A stage downstream of a missing one gets a *provisional* key (its parents' weights do not exist yet): it is
// missing too, and two configs with the same provisional key would compute the same stage.
import type { ExperimentConfig } from '../config/schema';
import type { ArtifactStore } from '../store/artifact-store';
import type { LineageInput, StageKind, StageOutput } from '../contract/lineage';
import type { ArtifactRef } from '../store/artifact-ref';
import { runLineageStages, type StageRunner } from './stages';
import { lookupImport } from '../activities/base';
import { lookupStage, stageKey } from '../activities/cache';

export interface PlannedRun {
  stage: string;
  kind: StageKind;
  /** Stage cache key ('' for validate/report, which are not cached). */
  key: string;
  cached: boolean;
  /** The key depends on a stage that is not computed yet. */
  provisional: boolean;
  /** The cached result (timings, artifact sizes), when the store holds it. */
  output?: StageOutput;
}

const PLACEHOLDER = 'planned:';
const placeholderRef = (key: string, name: string): ArtifactRef => ({ uri: `${PLACEHOLDER}${key}/${name}`, sha256: `${PLACEHOLDER}${key}:${name}`, bytes: 0, kind: name });

function placeholder(stage: string, kind: StageKind, key: string, names: string[], weights: boolean): StageOutput {
  const outputs = Object.fromEntries(names.map((n) => [n, placeholderRef(key, n)]));
  return {
    stage, kind, key, outputs, artifacts: Object.values(outputs), metrics: {}, startedAt: '', finishedAt: '',
    ...(weights ? { weights: Object.fromEntries(names.map((n) => [n, `${PLACEHOLDER}${key}:${n}:weights`])) } : {}),
  };
}

/** Every stage a lineage with this config would run, in order, with its key and cache state in `store`. */
export async function planLineage(store: ArtifactStore, config: ExperimentConfig, codeVersion: string): Promise<PlannedRun[]> {
  const runs: PlannedRun[] = [];
  const record = (run: PlannedRun) => runs.push(run);
  const runner: StageRunner = {
    validate: async () => ({ storeUrl: config.store ?? '' }),
    lookup: async (args) => {
      const provisional = args.parents.some((p) => p.startsWith(PLACEHOLDER));
      const result = provisional ? { key: stageKey(args) } : await lookupStage(store, args);
      record({ stage: args.stage, kind: args.kind, key: result.key, cached: !!result.cached, provisional, ...(result.cached ? { output: result.cached } : {}) });
      return result;
    },
    importModel: async (args) => {
      const result = await lookupImport(store, args);
      record({ stage: args.stage, kind: 'base', key: result.key, cached: !!result.cached, provisional: false, ...(result.cached ? { output: result.cached } : {}) });
      return { output: result.cached ?? placeholder(args.stage, 'base', result.key, ['checkpoint'], true), cached: !!result.cached };
    },
    train: async (args) => placeholder(args.stage, args.stage === 'base' ? 'base' : 'train', args.key, ['checkpoint', ...Object.keys(args.marks ?? {})], true),
    trace: async (args) => placeholder(args.stage, 'trace', args.key, ['trace', ...(args.donor ? ['cmap'] : [])], false),
    compare: async (args) => placeholder(args.stage, 'compare', args.key, ['compare'], false),
    report: async () => {
      record({ stage: 'report', kind: 'report', key: '', cached: false, provisional: false });
      return { report: placeholderRef('report', 'report'), data: placeholderRef('report', 'data') };
    },
  };
  const input: LineageInput = { config, configHash: '', codeVersion, queues: { orchestrator: '', gpu: '', cpu: '' } };
  await runLineageStages(input, runner, { running() {}, finished() {}, failed: (_s, err) => err, optionalFailed: () => false });
  return runs;
}

/** The keys of the stages a config would compute (for the sweep's scheduling). */
export async function missingStageKeys(store: ArtifactStore, config: ExperimentConfig, codeVersion: string): Promise<string[]> {
  return (await planLineage(store, config, codeVersion)).filter((r) => !r.cached && r.key !== '').map((r) => r.key);
}
