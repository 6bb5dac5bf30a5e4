import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openStore } from './open-store.ts';

describe('openStore', () => {
  it('opens folders from file URIs and plain paths', () => {
    expect(openStore('file:///tmp/x/.mlops').uri).toBe('file:///tmp/x/.mlops');
    expect(openStore('file://.mlops').uri).toBe(`file://${resolve('.mlops')}`);
    expect(openStore('/tmp/x/.mlops').uri).toBe('file:///tmp/x/.mlops');
    expect(openStore('rel/dir').uri).toBe(`file://${resolve('rel/dir')}`);
  });

  it('says cloud stores are not supported yet', () => {
    expect(() => openStore('gs://bucket/prefix')).toThrow(/gs:\/\/ stores are not supported yet/);
    expect(() => openStore('s3://bucket/prefix')).toThrow(/s3:\/\/ stores are not supported yet/);
    expect(() => openStore('ftp://host/x')).toThrow(/Unknown store scheme/);
  });
});
