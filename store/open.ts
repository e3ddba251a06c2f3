// openStore(spec): a local path, file:///abs/path or s3://bucket/prefix → ArtifactStore.
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ContentStore, type ArtifactStore } from './artifact-store';
import { LocalBackend } from './local-backend';
import { S3Backend, type S3BackendOptions } from './s3-backend';

/** Where the local store lives when none is configured, relative to the project directory. */
export const DEFAULT_STORE_DIR = '.plasticity/store';

export function defaultStorePath(projectDir: string = process.cwd()): string {
  return path.resolve(projectDir, DEFAULT_STORE_DIR);
}

/**
 * Opens (without contacting it; call `check()` for that) the store named by `spec`:
 * - undefined or '' → `<cwd>/.plasticity/store`
 * - `s3://bucket[/prefix]` → S3 (endpoint/region/credentials from the standard AWS env vars unless given in `s3`)
 * - `file:///abs/path` or a plain path (relative to cwd) → local folder
 */
export function openStore(spec?: string, options: { s3?: S3BackendOptions } = {}): ArtifactStore {
  if (!spec) return new ContentStore(new LocalBackend(defaultStorePath()));
  if (spec.startsWith('s3://')) {
    const [bucket, ...rest] = spec.slice('s3://'.length).split('/');
    if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket))
      throw new Error(`store URL ${spec}: invalid bucket name "${bucket}"; expected s3://bucket/prefix (3-63 chars: a-z 0-9 . -)`);
    return new ContentStore(new S3Backend(bucket, rest.join('/'), options.s3));
  }
  if (spec.startsWith('file://')) return new ContentStore(new LocalBackend(fileURLToPath(spec)));
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(spec))
    throw new Error(`store URL ${spec}: unsupported scheme; expected a folder path, file:///abs/path or s3://bucket/prefix`);
  return new ContentStore(new LocalBackend(path.resolve(spec)));
}
