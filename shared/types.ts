// Shapes that cross layer and process boundaries. Pure types: safe to import from workflows.

/** The only way tensors cross a process boundary: a pointer into the artifact store. */
export interface ArtifactRef {
  uri: string; // the blob key relative to the store root: blobs/ab/abcd… (older stores: an absolute file:// or s3:// URI)
  sha256: string; // hex of the blob's bytes
  bytes: number;
  kind: string; // 'checkpoint' | 'trace' | 'compare' | 'report' | …
}

export interface StageResult {
  stage: string;
  key: string; // stage cache key
  artifacts: ArtifactRef[];
  metrics: Record<string, number>;
  startedAt: string;
  finishedAt: string;
}
