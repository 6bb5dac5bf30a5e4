import { createHash } from 'node:crypto';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { ListObjectsV2Command, PutObjectCommand, S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { openStore } from '../open-store.ts';
import { describeStoreContract, uniquePrefix } from '../store-contract.testing.ts';
import { PreconditionFailedError } from '../types.ts';
import { startLocalS3, testS3ClientConfig, type LocalS3 } from './local-s3.testing.ts';
import { parseS3Uri } from '../keys.ts';
import { mkdtemp, readdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { neverAnswer, stallAfterHeaders, startStallingServer } from '../stalling-server.testing.ts';
import { s3ClientConfigFromEnv, S3Store } from './s3-store.ts';

const md5 = (data: Buffer | string) => createHash('md5').update(data).digest('hex');

let s3: LocalS3;
beforeAll(async () => {
  s3 = await startLocalS3();
});
afterAll(() => s3?.stop());

// Each test gets its own prefix in the one bucket: an empty store, without restarting the server.
describeStoreContract('S3Store', async () => {
  const prefix = uniquePrefix('contract');
  return { store: s3.store(prefix), reopen: () => s3.store(prefix) };
});

describe('S3Store', () => {
  it('keeps objects under its prefix, with the S3 ETag (unquoted) as etag', async () => {
    const prefix = uniquePrefix('layout');
    const store = s3.store(`${prefix}/nested`);
    expect(store.uri).toBe(`s3://${s3.bucket}/${prefix}/nested`);
    const put = await store.put('a/b.json', '{"x":1}');
    expect(put.etag).toBe(md5('{"x":1}'));
    expect((await store.get('a/b.json')).info).toMatchObject({ key: 'a/b.json', size: 7, etag: md5('{"x":1}') });

    const raw = await s3.client().send(new ListObjectsV2Command({ Bucket: s3.bucket, Prefix: `${prefix}/` }));
    expect(raw.Contents?.map((o) => [o.Key, o.ETag])).toEqual([[`${prefix}/nested/a/b.json`, `"${md5('{"x":1}')}"`]]);
    // A neighbouring prefix is another store.
    expect(await s3.store(`${prefix}/nest`).list('')).toEqual([]);
    expect(await s3.store(prefix).list('')).toMatchObject([{ key: 'nested/a/b.json' }]);
  });

  it('skips objects in the bucket that no key can name', async () => {
    const prefix = uniquePrefix('odd');
    const store = s3.store(prefix);
    for (const key of ['b', 'a/1']) await store.put(key, key);
    // What a console's "create folder" leaves behind.
    await s3.client().send(new PutObjectCommand({ Bucket: s3.bucket, Key: `${prefix}/folder/`, Body: Buffer.alloc(0) }));
    expect((await store.list('')).map((o) => o.key)).toEqual(['a/1', 'b']);
  });

  // s3rver cannot paginate on Node 17+ (its continuation tokens use DES, which OpenSSL 3 dropped),
  // so pages come from a stand-in client here.
  it('follows ListObjectsV2 continuation tokens and sorts the keys', async () => {
    const pages: Record<string, { keys: string[]; next?: string }> = {
      '': { keys: ['p/c', 'p/a/2'], next: 't1' },
      t1: { keys: ['p/b', 'p/a/1'], next: 't2' },
      t2: { keys: ['p/d'] },
    };
    const requests: { Prefix?: string; ContinuationToken?: string; MaxKeys?: number }[] = [];
    const client = {
      send: (command: ListObjectsV2Command) => {
        requests.push(command.input);
        const page = pages[command.input.ContinuationToken ?? ''];
        return Promise.resolve({
          Contents: page?.keys.map((Key) => ({ Key, Size: 1, ETag: '"e"', LastModified: new Date(0) })),
          IsTruncated: page?.next !== undefined,
          NextContinuationToken: page?.next,
        });
      },
    } as unknown as S3Client;
    const store = new S3Store(client, { bucket: 'b', prefix: 'p' }, { listPageSize: 2 });
    expect((await store.list('')).map((o) => o.key)).toEqual(['a/1', 'a/2', 'b', 'c', 'd']);
    expect(requests.map((r) => [r.Prefix, r.ContinuationToken, r.MaxKeys])).toEqual([
      ['p/', undefined, 2],
      ['p/', 't1', 2],
      ['p/', 't2', 2],
    ]);
  });

  it('is what openStore returns for s3:// URIs, configured from the environment', async () => {
    // Credentials come from the SDK's default chain, which reads process.env.
    vi.stubEnv('AWS_ACCESS_KEY_ID', s3.env.AWS_ACCESS_KEY_ID);
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', s3.env.AWS_SECRET_ACCESS_KEY);
    try {
      const prefix = uniquePrefix('env');
      const store = openStore(`s3://${s3.bucket}/${prefix}/`, s3.env);
      expect(store.uri).toBe(`s3://${s3.bucket}/${prefix}`);
      await store.putIfAbsent('hello.txt', 'hi');
      expect((await s3.store(prefix).get('hello.txt')).body.toString()).toBe('hi');
    } finally {
      vi.unstubAllEnvs();
    }
  });

  it('fails fast and clearly when the store is down', async () => {
    const port = await closedPort();
    const client = new S3Client(testS3ClientConfig(`http://127.0.0.1:${port}`));
    const store = new S3Store(client, { bucket: 'models', prefix: 'prod' });
    const started = Date.now();
    try {
      await expect(store.get('aliases/champion.json')).rejects.toThrow(
        /^S3 get of s3:\/\/models\/prod\/aliases\/champion\.json failed: .*ECONNREFUSED/,
      );
      await expect(store.putIfMatch('a.json', 'x', 'etag')).rejects.toThrow(/^S3 putIfMatch of s3:\/\/models\/prod\/a\.json failed/);
      await expect(store.head('a.json')).rejects.toThrow(/^S3 head of s3:\/\/models\/prod\/a\.json failed/);
      await expect(store.list('versions/')).rejects.toThrow(/^S3 list of s3:\/\/models\/prod\/versions\/\* failed/);
      await expect(store.delete('a.json')).rejects.toThrow(/^S3 delete of s3:\/\/models\/prod\/a\.json failed/);
      await expect(store.downloadFile('a.json', '/nonexistent/a.json')).rejects.toThrow(
        /^S3 downloadFile of s3:\/\/models\/prod\/a\.json failed/,
      );
    } finally {
      client.destroy();
    }
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('treats a 409 ConditionalRequestConflict as a failed precondition', async () => {
    const conflict = new S3ServiceException({
      name: 'ConditionalRequestConflict',
      $fault: 'client',
      $metadata: { httpStatusCode: 409 },
      message: 'A conflicting operation occurred',
    });
    const client = { send: () => Promise.reject(conflict) } as unknown as S3Client;
    const store = new S3Store(client, { bucket: 'b', prefix: '' });
    await expect(store.putIfAbsent('k', 'x')).rejects.toThrow(PreconditionFailedError);
    await expect(store.putIfMatch('k', 'x', 'e')).rejects.toThrow(PreconditionFailedError);
  });

  it('parses s3:// URIs', () => {
    expect(parseS3Uri('s3://my-bucket')).toEqual({ bucket: 'my-bucket', prefix: '' });
    expect(parseS3Uri('s3://my-bucket/')).toEqual({ bucket: 'my-bucket', prefix: '' });
    expect(parseS3Uri('s3://my-bucket/a/b/')).toEqual({ bucket: 'my-bucket', prefix: 'a/b' });
    expect(() => parseS3Uri('s3:///x')).toThrow(/does not name a valid S3 bucket/);
    expect(() => parseS3Uri('s3://Bad_Bucket/x')).toThrow(/does not name a valid S3 bucket/);
    expect(() => parseS3Uri('s3://bucket/a//b')).toThrow(/invalid prefix/);
    expect(() => parseS3Uri('s3://bucket/../b')).toThrow(/invalid prefix/);
  });
});

describe('S3Store in front of a server that hangs', () => {
  const credentials = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };
  /** The client openStore builds, with a timeout short enough for a test, and no retries. */
  const hungStore = (endpoint: string, stallTimeoutMs = 30_000) => {
    const env = { MLOPS_S3_ENDPOINT: endpoint, MLOPS_STORE_RESPONSE_TIMEOUT_MS: '300' };
    const client = new S3Client({ ...s3ClientConfigFromEnv(env), credentials, maxAttempts: 1 });
    return { client, store: new S3Store(client, { bucket: 'models', prefix: 'prod' }, { stallTimeoutMs, responseTimeoutMs: 300 }) };
  };
  const elapsed = async (work: () => Promise<unknown>) => {
    const started = Date.now();
    await work();
    return Date.now() - started;
  };

  it('gives up on a request whose answer never comes (the connection stays open)', { timeout: 5_000 }, async () => {
    const server = await startStallingServer(neverAnswer);
    const { client, store } = hungStore(server.endpoint);
    try {
      const ms = await elapsed(async () => {
        await expect(store.get('aliases/champion.json')).rejects.toThrow(
          /^S3 get of s3:\/\/models\/prod\/aliases\/champion\.json failed: TimeoutError/,
        );
        await expect(store.downloadFile('a.onnx', '/nonexistent/a.onnx')).rejects.toThrow(/^S3 downloadFile .* failed: TimeoutError/);
      });
      expect(ms).toBeLessThan(2_500);
      expect(server.requests).toHaveLength(2);
    } finally {
      client.destroy();
      await server.close();
    }
  });

  it('gives up on a body that stops coming, and leaves no file', { timeout: 5_000 }, async () => {
    const server = await startStallingServer(stallAfterHeaders(500_000_000, { etag: '"abc"' }));
    const { client, store } = hungStore(server.endpoint, 300);
    const dir = await mkdtemp(join(tmpdir(), 's3-stall-'));
    try {
      const ms = await elapsed(async () => {
        await expect(store.downloadFile('model.onnx', join(dir, 'model.onnx'))).rejects.toThrow(
          /^S3 downloadFile to .* of s3:\/\/models\/prod\/model\.onnx failed: TimeoutError: ETIMEDOUT: no data for 300 ms/,
        );
        await expect(store.get('model.onnx')).rejects.toThrow(/^S3 get of .* failed: TimeoutError: ETIMEDOUT: no data for 300 ms/);
      });
      expect(ms).toBeLessThan(2_500);
      expect(await readdir(dir)).toEqual([]);
    } finally {
      client.destroy();
      await server.close();
    }
  });

  it("waits for an upload's answer as long as its size allows, and gives up on one that never comes", { timeout: 8_000 }, async () => {
    // Answers 700 ms after the body ends: past the 300 ms response timeout, within a 1 MiB file's bound (300 ms + 1 s).
    const server = await startStallingServer((req, res) => {
      req.resume();
      req.on('end', () => setTimeout(() => res.writeHead(200, { etag: '"up"' }).end(), 700));
    });
    const hole = await startStallingServer((req) => req.resume());
    const { client, store } = hungStore(server.endpoint);
    const holed = hungStore(hole.endpoint);
    const dir = await mkdtemp(join(tmpdir(), 's3-upload-'));
    try {
      await writeFile(join(dir, 'model.onnx'), Buffer.alloc(1024 * 1024, 1));
      expect(await store.uploadFile('model.onnx', join(dir, 'model.onnx'))).toMatchObject({ etag: 'up', size: 1024 * 1024 });
      // A small put keeps the response timeout.
      await expect(store.put('a.json', '{}')).rejects.toThrow(/^S3 put .* failed: TimeoutError/);
      // A server that takes the body and never answers: the upload fails within its bound.
      await writeFile(join(dir, 'small.bin'), 'weights');
      const ms = await elapsed(() => expect(holed.store.uploadFile('small.bin', join(dir, 'small.bin'))).rejects.toThrow(/TimeoutError/));
      expect(ms).toBeLessThan(2_500);
    } finally {
      client.destroy();
      holed.client.destroy();
      await server.close();
      await hole.close();
    }
  });
});

describe('the local S3 used by these tests', () => {
  it('answers conditional PUTs as S3 does (the proxy in front of s3rver)', async () => {
    const client = s3.client();
    const key = `${uniquePrefix('raw')}/k`;
    const put = (extra: { IfNoneMatch?: string; IfMatch?: string }) =>
      client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: key, Body: 'x', ...extra })).then(
        (out) => out.ETag,
        (err: S3ServiceException) => `${err.$metadata.httpStatusCode} ${err.name}`,
      );
    expect(await put({ IfMatch: '"abc"' })).toBe('404 NoSuchKey');
    expect(await put({ IfNoneMatch: '*' })).toBe(`"${md5('x')}"`);
    expect(await put({ IfNoneMatch: '*' })).toBe('412 PreconditionFailed');
    expect(await put({ IfMatch: '"abc"' })).toBe('412 PreconditionFailed');
    expect(await put({ IfMatch: `"${md5('x')}"` })).toBe(`"${md5('x')}"`);
  });

  it('is needed: s3rver alone ignores If-None-Match on PutObject', async () => {
    const client = s3.client({ endpoint: s3.serverEndpoint });
    const key = `${uniquePrefix('raw')}/k`;
    await client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: key, Body: 'one', IfNoneMatch: '*' }));
    await client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: key, Body: 'two', IfNoneMatch: '*' }));
    expect((await s3.store().get(key)).body.toString()).toBe('two');
  });
});

/** A port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}
