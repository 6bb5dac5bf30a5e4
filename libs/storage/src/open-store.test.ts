import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { deferredStore } from './deferred-store.ts';
import { FileStore } from './file/file-store.ts';
import { gcsStorageOptionsFromEnv } from './gcs/gcs-store.ts';
import { openStore } from './open-store.ts';
import { s3ClientConfigFromEnv } from './s3/s3-store.ts';
import type { ObjectStore } from './types.ts';

describe('openStore', () => {
  it('opens folders from file URIs and plain paths', () => {
    expect(openStore('file:///tmp/x/.mlops').uri).toBe('file:///tmp/x/.mlops');
    expect(openStore('file://.mlops').uri).toBe(`file://${resolve('.mlops')}`);
    expect(openStore('/tmp/x/.mlops').uri).toBe('file:///tmp/x/.mlops');
    expect(openStore('rel/dir').uri).toBe(`file://${resolve('rel/dir')}`);
  });

  it('opens s3:// URIs as S3 stores', () => {
    expect(openStore('s3://bucket/prefix').uri).toBe('s3://bucket/prefix');
    expect(openStore('s3://bucket/a/b/').uri).toBe('s3://bucket/a/b');
    expect(openStore('s3://bucket', { MLOPS_S3_ENDPOINT: 'http://127.0.0.1:9000' }).uri).toBe('s3://bucket');
    expect(() => openStore('s3://No_Such/x')).toThrow(/does not name a valid S3 bucket/);
  });

  it('configures S3 from AWS_REGION and MLOPS_S3_ENDPOINT', () => {
    expect(s3ClientConfigFromEnv({})).toEqual({
      region: 'us-east-1',
      requestHandler: { connectionTimeout: 5_000, requestTimeout: 30_000, throwOnRequestTimeout: true },
    });
    expect(s3ClientConfigFromEnv({ MLOPS_STORE_RESPONSE_TIMEOUT_MS: '5000' }).requestHandler).toMatchObject({ requestTimeout: 5_000 });
    expect(s3ClientConfigFromEnv({ AWS_REGION: 'eu-west-3', MLOPS_S3_ENDPOINT: 'http://127.0.0.1:9000' })).toMatchObject({
      region: 'eu-west-3',
      endpoint: 'http://127.0.0.1:9000',
      forcePathStyle: true,
    });
  });

  it('opens gs:// URIs as GCS stores', () => {
    expect(openStore('gs://bucket/prefix').uri).toBe('gs://bucket/prefix');
    expect(openStore('gs://bucket/a/b/').uri).toBe('gs://bucket/a/b');
    expect(openStore('gs://bucket', { STORAGE_EMULATOR_HOST: 'http://127.0.0.1:4443' }).uri).toBe('gs://bucket');
    expect(() => openStore('gs://No_Such/x')).toThrow(/does not name a valid GCS bucket/);
  });

  it('configures GCS from STORAGE_EMULATOR_HOST', () => {
    expect(gcsStorageOptionsFromEnv({})).toEqual({ retryOptions: { maxRetries: 2, totalTimeout: 60 }, timeout: 30_000 });
    expect(gcsStorageOptionsFromEnv({ MLOPS_STORE_RESPONSE_TIMEOUT_MS: '5000' })).toMatchObject({ timeout: 5_000 });
    expect(gcsStorageOptionsFromEnv({ STORAGE_EMULATOR_HOST: 'http://127.0.0.1:4443' })).toMatchObject({
      apiEndpoint: 'http://127.0.0.1:4443',
    });
  });

  it('rejects unknown schemes', () => {
    expect(() => openStore('ftp://host/x')).toThrow(/Unknown store scheme/);
  });
});

describe('deferredStore', () => {
  it('loads the store on first use, once for concurrent calls, and delegates every call', async () => {
    const folder = new FileStore(await mkdtemp(join(tmpdir(), 'deferred-')));
    const load = vi.fn((): Promise<ObjectStore> => new Promise((done) => setTimeout(() => done(folder), 20)));
    const store = deferredStore('mem://x', load);
    expect(store.uri).toBe('mem://x');
    expect(load).not.toHaveBeenCalled();
    await Promise.all([store.put('a', '1'), store.putIfAbsent('b', '2')]);
    expect(load).toHaveBeenCalledTimes(1);
    const a = await store.head('a');
    expect(a?.size).toBe(1);
    await store.putIfMatch('a', '11', a?.etag ?? '');
    expect((await store.get('a')).body.toString()).toBe('11');
    expect((await store.list('')).map((o) => o.key)).toEqual(['a', 'b']);
    await store.delete('b');
    expect(await folder.head('b')).toBeUndefined();
  });

  it('tries to load again after a failed load', async () => {
    const folder = new FileStore(await mkdtemp(join(tmpdir(), 'deferred-')));
    const load = vi.fn<() => Promise<ObjectStore>>().mockRejectedValueOnce(new Error('SDK missing')).mockResolvedValue(folder);
    const store = deferredStore('mem://x', load);
    await expect(store.head('a')).rejects.toThrow('SDK missing');
    expect(await store.head('a')).toBeUndefined();
    expect(load).toHaveBeenCalledTimes(2);
  });
});
