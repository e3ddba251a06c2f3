// How a stored blob is referred to everywhere, workflow payloads included. A pure type: safe to import from workflows.

/** The only way tensors cross a process boundary: a pointer into the artifact store. */
export interface ArtifactRef {
  uri: string; // the blob key relative to the store root: blobs/ab/abcd… (older stores: an absolute file:// or s3:// URI)
  sha256: string; // hex of the blob's bytes
  bytes: number;
  kind: string; // 'checkpoint' | 'trace' | 'compare' | 'report' | …
}
