// The artifact store's public surface. Layout under a store root (a folder, or s3://bucket/prefix):
//   blobs/ab/<sha256>        content-addressed bytes (checkpoints, traces, …), written first, verified on every read
//   <any other key>.json     manifests (e.g. runs/<lineage>/<stage>/checkpoints/step-000120.json, stages/<key>.json),
//                            written last and atomically; putJson refuses a manifest whose blobs are not stored yet
// gc() deletes blobs no remaining manifest references (after a grace period). Checkpoint series, their retention
// and checkpoint folders in the store: checkpoint/.
export { ContentStore, blobKey, findArtifactRefs, BLOB_PREFIX, type ArtifactStore, type BlobSource } from './artifact-store';
export type { StoreBackend, StoreEntry } from './backend';
export { LocalBackend } from './local-backend';
export { S3Backend, type S3BackendOptions } from './s3-backend';
export { StoreError, ChecksumError } from './errors';
export { gc, type GcOptions } from './gc';
export { openStore, defaultStorePath, DEFAULT_STORE_DIR } from './open';
export { Verifier, verifyStore, type BlobProblem, type StoreVerifyReport } from './verify';
export { QUARANTINE_PREFIX, type StoreStats, type BlobCheck } from './artifact-store';
export { refLocation } from './artifact-store';
