import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { S3Client } from '@aws-sdk/client-s3';
import { Storage } from '@google-cloud/storage';
import { FileStore } from './file/file-store.ts';
import { gcsStorageOptionsFromEnv, GcsStore, parseGcsUri } from './gcs/gcs-store.ts';
import { parseS3Uri, s3ClientConfigFromEnv, S3Store } from './s3/s3-store.ts';
import type { ObjectStore } from './types.ts';

/**
 * `file:///abs`, `file://relative` or a plain path open a folder store; `s3://bucket/prefix` a
 * bucket (AWS_REGION, MLOPS_S3_ENDPOINT from `env`); `gs://bucket/prefix` a GCS bucket
 * (credentials from ADC; STORAGE_EMULATOR_HOST from `env` or process.env for a local server).
 */
export function openStore(uri: string, env: NodeJS.ProcessEnv = process.env): ObjectStore {
  if (uri.startsWith('file://')) {
    const rest = uri.slice('file://'.length);
    if (rest === '') throw new Error(`Store URI ${uri} names no folder`);
    return new FileStore(rest.startsWith('/') ? fileURLToPath(uri) : resolve(rest));
  }
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(uri)?.[1]?.toLowerCase();
  if (scheme === 's3') return new S3Store(new S3Client(s3ClientConfigFromEnv(env)), parseS3Uri(uri));
  if (scheme === 'gs') return new GcsStore(new Storage(gcsStorageOptionsFromEnv(env)), parseGcsUri(uri));
  if (scheme) throw new Error(`Unknown store scheme in ${uri}; expected file://, gs://, s3:// or a local path`);
  if (uri === '') throw new Error('Store URI is empty');
  return new FileStore(resolve(uri));
}
