import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { deferredStore } from './deferred-store.ts';
import { FileStore } from './file/file-store.ts';
import { bucketStoreUri, parseGcsUri, parseS3Uri } from './keys.ts';
import type { ObjectStore } from './types.ts';

/**
 * `file:///abs`, `file://relative` or a plain path open a folder store; `s3://bucket/prefix` a
 * bucket (AWS_REGION, MLOPS_S3_ENDPOINT from `env`); `gs://bucket/prefix` a GCS bucket
 * (credentials from ADC; STORAGE_EMULATOR_HOST from `env` or process.env for a local server).
 * URIs are checked at once; a cloud SDK is imported only when its store is first used. A cloud
 * store gives up on a server that hangs: MLOPS_STORE_RESPONSE_TIMEOUT_MS (until a response's
 * headers) and MLOPS_STORE_STALL_TIMEOUT_MS (a body sending nothing), from `env`; see StoreTimeouts.
 */
export function openStore(uri: string, env: NodeJS.ProcessEnv = process.env): ObjectStore {
  if (uri.startsWith('file://')) {
    const rest = uri.slice('file://'.length);
    if (rest === '') throw new Error(`Store URI ${uri} names no folder`);
    return new FileStore(rest.startsWith('/') ? fileURLToPath(uri) : resolve(rest));
  }
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(uri)?.[1]?.toLowerCase();
  if (scheme === 's3') {
    return deferredStore(bucketStoreUri('s3', parseS3Uri(uri)), async () => (await import('./s3/s3-store.ts')).openS3Store(uri, env));
  }
  if (scheme === 'gs') {
    return deferredStore(bucketStoreUri('gs', parseGcsUri(uri)), async () => (await import('./gcs/gcs-store.ts')).openGcsStore(uri, env));
  }
  if (scheme) throw new Error(`Unknown store scheme in ${uri}; expected file://, gs://, s3:// or a local path`);
  if (uri === '') throw new Error('Store URI is empty');
  return new FileStore(resolve(uri));
}
