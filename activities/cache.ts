// The stage cache. A stage's key is a hash of its kind, its parents' identities (weights or artifact sha256), its
// config and the code version; a completed stage leaves stages/<key>/result.json (written after all its blobs), and
// a later run whose stage has the same key reuses that result instead of recomputing it.
import { hashJson } from '../config/canonical';
import type { ArtifactStore } from '../store/artifact-store';
import { Verifier } from '../store/verify';
import type { LookupStageInput, LookupStageResult, StageKeyInput } from '../contract/activities';
import type { StageOutput } from '../contract/lineage';
import { stagePrefix } from '../checkpoint/store';

/** `<kind>-<32 hex>`: readable in store listings, unique per stage inputs. */
export function stageKey(input: StageKeyInput): string {
  const digest = hashJson({ kind: input.kind, parents: input.parents, config: input.config, codeVersion: input.codeVersion });
  return `${input.kind}-${digest.slice(0, 32)}`;
}

export const resultKey = (key: string) => `${stagePrefix(key)}/result.json`;

/** Records a completed stage (its blobs must already be in the store). */
export async function recordStage(store: ArtifactStore, output: StageOutput): Promise<void> {
  await store.putJson(resultKey(output.key), output);
}

/**
 * Whether a recorded output can be reused: every blob it references (checkpoint files through their descriptors
 * included) is read and its sha256 checked. A corrupt blob is quarantined, so the stage is recomputed and the
 * recomputed blob lands at its key again.
 */
async function complete(store: ArtifactStore, output: StageOutput): Promise<boolean> {
  const verifier = new Verifier(store);
  const refs = [...output.artifacts, ...Object.values(output.outputs ?? {})];
  if (await verifier.check(refs)) return true;
  await verifier.quarantineProblems();
  for (const p of verifier.problems) {
    console.warn(`stage ${output.stage} (${output.key}): not reused, ${p.problem} blob ${p.ref.uri}` + (p.quarantinedAs ? ` (moved to ${p.quarantinedAs})` : '') + '; recomputing');
  }
  return false;
}

/** Computes the stage key and looks for a completed result (a matching candidate first, then the store). */
export async function lookupStage(store: ArtifactStore, input: LookupStageInput): Promise<LookupStageResult> {
  const key = stageKey(input);
  const candidate = input.candidate;
  if (candidate && candidate.key === key && (await complete(store, candidate))) {
    if (!(await store.exists(resultKey(key)))) await recordStage(store, candidate);
    return { key, cached: { ...candidate, stage: input.stage } };
  }
  const recorded = await store.getJson<StageOutput>(resultKey(key));
  if (recorded && recorded.key === key && (await complete(store, recorded))) return { key, cached: { ...recorded, stage: input.stage } };
  return { key };
}
