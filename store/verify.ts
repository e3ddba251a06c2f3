// Integrity checks of stage outputs and whole stores: every blob a manifest references (and, through checkpoint
// descriptors and other JSON blobs, every blob they name) is read and its sha256 compared with the ref. Bad blobs
// can be quarantined (moved aside, never deleted) with the manifests that point at them, so the stages that
// produced them are recomputed instead of reused.
import type { ArtifactRef } from './artifact-ref';
import { BLOB_PREFIX, QUARANTINE_PREFIX, blobKey, findArtifactRefs, type ArtifactStore } from './artifact-store';

/** Blobs up to this size are parsed as JSON, to follow the refs inside them (checkpoint descriptors, traces). */
const NESTED_MAX_BYTES = 1 << 20;

export interface BlobProblem {
  ref: ArtifactRef;
  problem: 'missing' | 'corrupt';
  detail: string;
  /** Where it was moved when repaired. */
  quarantinedAs?: string;
}

/** Verification state shared across calls: sha256 → sound (itself and everything nested), so shared blobs are read once. */
export class Verifier {
  readonly sound = new Map<string, boolean>();
  readonly problems: BlobProblem[] = [];
  checked = 0;
  bytes = 0;

  constructor(readonly store: ArtifactStore) {}

  /** Whether every ref (and everything nested in them) is present with the right bytes. */
  async check(refs: readonly ArtifactRef[]): Promise<boolean> {
    let ok = true;
    for (const ref of refs) ok = (await this.walk(ref)) && ok;
    return ok;
  }

  private async walk(ref: ArtifactRef): Promise<boolean> {
    const known = this.sound.get(ref.sha256);
    if (known !== undefined) return known;
    const result = await this.store.verifyBlob(ref);
    this.checked++;
    if (!result.ok) {
      this.problems.push({ ref, problem: result.problem, detail: result.detail });
      this.sound.set(ref.sha256, false);
      return false;
    }
    this.bytes += ref.bytes;
    this.sound.set(ref.sha256, true); // provisional while its nested refs are checked (content addressing: no cycles)
    const ok = ref.bytes <= NESTED_MAX_BYTES ? await this.check(await nestedRefs(this.store, ref)) : true;
    this.sound.set(ref.sha256, ok);
    return ok;
  }

  /** Moves the corrupt blobs aside (a missing one has nothing to move). */
  async quarantineProblems(): Promise<void> {
    for (const p of this.problems) {
      if (p.problem === 'corrupt' && !p.quarantinedAs) p.quarantinedAs = await this.store.quarantine(blobKey(p.ref.sha256));
    }
  }
}

async function nestedRefs(store: ArtifactStore, ref: ArtifactRef): Promise<ArtifactRef[]> {
  let value: unknown;
  try {
    value = JSON.parse((await store.getBlob(ref)).toString('utf8'));
  } catch {
    return []; // not JSON: a leaf blob
  }
  return findArtifactRefs(value);
}

export interface StoreVerifyReport {
  manifests: number;
  checked: number;
  bytes: number;
  problems: BlobProblem[];
  /** Manifests that are unreadable or reference a bad blob (directly or nested); moved to quarantine/ when repaired. */
  badManifests: { key: string; quarantinedAs?: string; why: string }[];
  repaired: boolean;
}

/** Checks every manifest of a store and every blob they reference; `repair` quarantines bad blobs and their manifests. */
export async function verifyStore(store: ArtifactStore, opts: { repair?: boolean } = {}): Promise<StoreVerifyReport> {
  const verifier = new Verifier(store);
  const badManifests: StoreVerifyReport['badManifests'] = [];
  let manifests = 0;
  for (const key of await store.list('')) {
    if (key.startsWith(BLOB_PREFIX) || key.startsWith(QUARANTINE_PREFIX) || !key.endsWith('.json')) continue;
    manifests++;
    let value: unknown;
    try {
      value = await store.getJson(key);
    } catch (err) {
      badManifests.push({ key, why: (err as Error).message });
      continue;
    }
    if (!(await verifier.check(findArtifactRefs(value)))) badManifests.push({ key, why: 'references a missing or corrupt blob' });
  }
  if (opts.repair) {
    await verifier.quarantineProblems();
    for (const m of badManifests) m.quarantinedAs = await store.quarantine(m.key);
  }
  return { manifests, checked: verifier.checked, bytes: verifier.bytes, problems: verifier.problems, badManifests, repaired: !!opts.repair };
}
