// S3 backend (AWS S3, SeaweedFS, MinIO): keys live under s3://bucket/prefix/. A PutObject (or a completed multipart
// upload) is atomic, so readers see a key whole or not at all. Large blobs go through lib-storage's multipart Upload.
import {
  CopyObjectCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { randomUUID } from 'node:crypto';
import { createReadStream, promises as fs } from 'node:fs';
import * as os from 'node:os';
import type { Readable } from 'node:stream';
import { checkKey, type StoreBackend, type StoreEntry } from './backend';
import { StoreError, describeCause } from './errors';
import { hashingStream } from './hashing';

// The SDK warns on every process under Node < 22 that future releases will need Node 22 (this project supports
// Node >= 20.3); its documented switch turns that one warning off. A user who sets the variable keeps their value.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

export interface S3BackendOptions {
  /** Custom endpoint (SeaweedFS/MinIO); enables path-style addressing. Default: AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL. */
  endpoint?: string;
  /** Default: AWS_REGION / AWS_DEFAULT_REGION, else us-east-1. */
  region?: string;
  /** Default: the SDK's default provider chain (env vars, shared config, …). */
  credentials?: S3ClientConfig['credentials'];
}

const PART_SIZE = 8 * 1024 * 1024;

export class S3Backend implements StoreBackend {
  readonly url: string;
  readonly endpoint: string | undefined;
  /** Used for data operations: a few retries, moderate timeouts. */
  readonly client: S3Client;
  /** Used by check(): one retry, short timeouts, so config validation fails fast. */
  private readonly checkClient: S3Client;

  constructor(
    readonly bucket: string,
    readonly prefix: string,
    options: S3BackendOptions = {},
  ) {
    this.prefix = prefix.replace(/^\/+|\/+$/g, '');
    this.url = `s3://${bucket}${this.prefix ? `/${this.prefix}` : ''}`;
    this.endpoint = options.endpoint ?? (process.env.AWS_ENDPOINT_URL_S3 || process.env.AWS_ENDPOINT_URL || undefined);
    const base: S3ClientConfig = {
      region: options.region ?? (process.env.AWS_REGION || process.env.AWS_DEFAULT_REGION || 'us-east-1'),
      credentials: options.credentials,
      ...(this.endpoint ? { endpoint: this.endpoint, forcePathStyle: true } : {}),
    };
    this.client = new S3Client({ ...base, maxAttempts: 3, requestHandler: { connectionTimeout: 5000, requestTimeout: 60000 } });
    this.checkClient = new S3Client({ ...base, maxAttempts: 2, requestHandler: { connectionTimeout: 2000, requestTimeout: 5000 } });
  }

  uriOf(key: string): string {
    return `s3://${this.bucket}/${this.fullKey(key)}`;
  }

  async check(): Promise<void> {
    const probe = `${this.prefix ? `${this.prefix}/` : ''}.check/${randomUUID()}`;
    await this.wrap('check (HeadBucket)', '', () => this.checkClient.send(new HeadBucketCommand({ Bucket: this.bucket })));
    await this.wrap('check (write probe)', probe, async () => {
      await this.checkClient.send(new PutObjectCommand({ Bucket: this.bucket, Key: probe, Body: 'ok' }));
      await this.checkClient.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: probe }));
    });
  }

  async spoolDir(): Promise<string> {
    return os.tmpdir();
  }

  async putFile(key: string, file: string, bytes: number): Promise<void> {
    await this.upload(key, createReadStream(file), bytes);
  }

  async putFromFile(key: string, file: string): Promise<{ sha256: string; bytes: number; written: number }> {
    const hashing = hashingStream();
    const { size } = await this.wrap('stat local file', file, () => fs.stat(file));
    await this.upload(key, createReadStream(file).pipe(hashing.stream), size);
    const digest = hashing.digest();
    return { ...digest, written: digest.bytes };
  }

  async move(from: string, to: string): Promise<void> {
    if (!(await this.stat(from))) return;
    await this.wrap('move', from, () =>
      this.client.send(
        new CopyObjectCommand({ Bucket: this.bucket, Key: this.fullKey(to), CopySource: encodeURI(`${this.bucket}/${this.fullKey(from)}`) }),
      ),
    );
    await this.delete(from);
  }

  async putBytes(key: string, bytes: Uint8Array, contentType?: string): Promise<void> {
    await this.upload(key, bytes, bytes.byteLength, contentType);
  }

  async read(key: string): Promise<Readable | undefined> {
    const res = await this.wrap('read', key, () =>
      this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.fullKey(key) })).catch(absentAsUndefined),
    );
    return res?.Body as Readable | undefined;
  }

  async stat(key: string): Promise<StoreEntry | undefined> {
    const res = await this.wrap('stat', key, () =>
      this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: this.fullKey(key) })).catch(absentAsUndefined),
    );
    return res && { key, bytes: res.ContentLength ?? 0, modified: res.LastModified ?? new Date(0) };
  }

  async list(prefix: string): Promise<StoreEntry[]> {
    const strip = this.prefix ? this.prefix.length + 1 : 0;
    const out: StoreEntry[] = [];
    let token: string | undefined;
    do {
      const page = await this.wrap('list', prefix || '(root)', () =>
        this.client.send(
          new ListObjectsV2Command({ Bucket: this.bucket, Prefix: this.withPrefix(prefix), ContinuationToken: token }),
        ),
      );
      for (const o of page.Contents ?? []) {
        const key = o.Key!.slice(strip);
        if (!key.startsWith('.check/')) out.push({ key, bytes: o.Size ?? 0, modified: o.LastModified ?? new Date(0) });
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  async delete(key: string): Promise<void> {
    await this.wrap('delete', key, () => this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.fullKey(key) })));
  }

  private async upload(key: string, body: Uint8Array | Readable, bytes: number, contentType?: string): Promise<void> {
    const params = { Bucket: this.bucket, Key: this.fullKey(key), Body: body, ContentLength: bytes, ContentType: contentType };
    await this.wrap('write', key, () => new Upload({ client: this.client, params, partSize: PART_SIZE, queueSize: 2 }).done());
  }

  private fullKey(key: string): string {
    return this.withPrefix(checkKey(key, `artifact store ${this.url}`));
  }

  private withPrefix(keyOrPrefix: string): string {
    return this.prefix ? `${this.prefix}/${keyOrPrefix}` : keyOrPrefix;
  }

  private async wrap<T>(op: string, key: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw new StoreError(this.url, `${op}${key ? ` ${key}` : ''} failed: ${this.explain(err)}`, { cause: err });
    }
  }

  /** Turns the SDK's terse errors into a message saying what is wrong and where. */
  private explain(err: unknown): string {
    const e = err as { name?: string; code?: string; $metadata?: { httpStatusCode?: number } };
    const where = this.endpoint ? `S3 endpoint ${this.endpoint}` : 'the AWS S3 endpoint';
    const cause = describeCause(err);
    if (e.name === 'NoSuchBucket' || (e.name === 'NotFound' && e.$metadata?.httpStatusCode === 404))
      return `bucket "${this.bucket}" does not exist at ${where} (${cause})`;
    if (e.name === 'CredentialsProviderError')
      return `no AWS credentials found; set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (${cause})`;
    if (['InvalidAccessKeyId', 'SignatureDoesNotMatch', 'AccessDenied', 'Forbidden'].includes(e.name ?? '') || e.$metadata?.httpStatusCode === 403)
      return `access denied by ${where}; check AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY (${cause})`;
    if (!e.$metadata?.httpStatusCode)
      return `cannot reach ${where} (${cause})`;
    return `${cause} (at ${where})`;
  }
}

function absentAsUndefined(err: { name?: string; $metadata?: { httpStatusCode?: number } }): undefined {
  if (err.name === 'NoSuchKey' || err.name === 'NotFound' || err.$metadata?.httpStatusCode === 404) return undefined;
  throw err;
}
