import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openStore } from './open-store.ts';
import { s3ClientConfigFromEnv, S3Store } from './s3/s3-store.ts';

describe('openStore', () => {
  it('opens folders from file URIs and plain paths', () => {
    expect(openStore('file:///tmp/x/.mlops').uri).toBe('file:///tmp/x/.mlops');
    expect(openStore('file://.mlops').uri).toBe(`file://${resolve('.mlops')}`);
    expect(openStore('/tmp/x/.mlops').uri).toBe('file:///tmp/x/.mlops');
    expect(openStore('rel/dir').uri).toBe(`file://${resolve('rel/dir')}`);
  });

  it('opens s3:// URIs as S3 stores', () => {
    expect(openStore('s3://bucket/prefix')).toBeInstanceOf(S3Store);
    expect(openStore('s3://bucket/prefix').uri).toBe('s3://bucket/prefix');
    expect(openStore('s3://bucket/a/b/').uri).toBe('s3://bucket/a/b');
    expect(openStore('s3://bucket', { MLOPS_S3_ENDPOINT: 'http://127.0.0.1:9000' }).uri).toBe('s3://bucket');
    expect(() => openStore('s3://No_Such/x')).toThrow(/does not name a valid S3 bucket/);
  });

  it('configures S3 from AWS_REGION and MLOPS_S3_ENDPOINT', () => {
    expect(s3ClientConfigFromEnv({})).toEqual({ region: 'us-east-1', requestHandler: { connectionTimeout: 5_000 } });
    expect(s3ClientConfigFromEnv({ AWS_REGION: 'eu-west-3', MLOPS_S3_ENDPOINT: 'http://127.0.0.1:9000' })).toMatchObject({
      region: 'eu-west-3',
      endpoint: 'http://127.0.0.1:9000',
      forcePathStyle: true,
    });
  });

  it('says gs:// is not supported yet, and rejects unknown schemes', () => {
    expect(() => openStore('gs://bucket/prefix')).toThrow(/gs:\/\/ stores are not supported yet/);
    expect(() => openStore('ftp://host/x')).toThrow(/Unknown store scheme/);
  });
});
