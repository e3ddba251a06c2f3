// Where S3 tests run: the harness's SeaweedFS (PLASTICITY_TEST_S3_ENDPOINT + bucket + AWS_* env), or else a private
// SeaweedFS started here. Never skips: missing pieces of the harness config are an error.
import { startSeaweed } from '../services/seaweedfs';

export interface S3Target {
  endpoint: string;
  bucket: string;
  region: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
  /** Set when this process started SeaweedFS itself. */
  startMs?: number;
  stop(): Promise<void>;
}

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`PLASTICITY_TEST_S3_ENDPOINT is set, so ${name} must be set too (the test harness exports both)`);
  return value;
}

export async function s3Target(): Promise<S3Target> {
  const endpoint = process.env.PLASTICITY_TEST_S3_ENDPOINT;
  if (endpoint) {
    return {
      endpoint,
      bucket: required('PLASTICITY_TEST_S3_BUCKET'),
      region: process.env.AWS_REGION || 'us-east-1',
      credentials: { accessKeyId: required('AWS_ACCESS_KEY_ID'), secretAccessKey: required('AWS_SECRET_ACCESS_KEY') },
      stop: async () => {},
    };
  }
  const weed = await startSeaweed();
  return {
    endpoint: weed.endpoint,
    bucket: weed.bucket,
    region: weed.region,
    credentials: { accessKeyId: weed.accessKeyId, secretAccessKey: weed.secretAccessKey },
    startMs: weed.startMs,
    stop: weed.stop,
  };
}
