import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { Storage } from '@google-cloud/storage';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { openStore } from '../open-store.ts';
import { describeStoreContract, uniquePrefix } from '../store-contract.testing.ts';
import { PreconditionFailedError } from '../types.ts';
import { parseGcsUri } from '../keys.ts';
import { mkdtemp, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { neverAnswer, stallAfterHeaders, startStallingServer } from '../stalling-server.testing.ts';
import { GcsStore, gcsStorageOptionsFromEnv } from './gcs-store.ts';
import { startLocalGcs, type LocalGcs } from './local-gcs.testing.ts';

/** What the SDK reads by itself: no apiEndpoint, no credentials, only STORAGE_EMULATOR_HOST. */
const emulatorClient = () => new Storage({ retryOptions: { autoRetry: false } });

let gcs: LocalGcs;
beforeAll(async () => {
  gcs = await startLocalGcs();
});
afterAll(() => gcs?.stop());

describe('through the SDK’s own STORAGE_EMULATOR_HOST', () => {
  beforeEach(() => {
    vi.stubEnv('STORAGE_EMULATOR_HOST', gcs.endpoint);
  });
  afterEach(() => {
    vi.unstubAllEnvs();
  });

  // Each test gets its own prefix in the one bucket: an empty store, without restarting the server.
  describeStoreContract('GcsStore', async () => {
    const prefix = uniquePrefix('contract');
    const open = () => new GcsStore(emulatorClient(), { bucket: gcs.bucket, prefix });
    return { store: open(), reopen: open };
  });

  it('sends its requests to the emulator host', async () => {
    const prefix = uniquePrefix('sdk');
    const before = gcs.requests.length;
    await new GcsStore(emulatorClient(), { bucket: gcs.bucket, prefix }).putIfAbsent('a.json', '{}');
    expect(gcs.requests.slice(before)).toEqual([
      expect.stringMatching(
        new RegExp(`^POST /upload/storage/v1/b/${gcs.bucket}/o\\?.*(?=.*uploadType=multipart)(?=.*ifGenerationMatch=0)`),
      ),
    ]);
  });
});

describe('GcsStore', () => {
  it('keeps objects under its prefix, with the generation as etag', async () => {
    const prefix = uniquePrefix('layout');
    const store = gcs.store(`${prefix}/nested`);
    expect(store.uri).toBe(`gs://${gcs.bucket}/${prefix}/nested`);
    const put = await store.put('a/b.json', '{"x":1}');
    expect(put.etag).toMatch(/^[1-9][0-9]*$/);
    const [metadata] = await gcs.client().bucket(gcs.bucket).file(`${prefix}/nested/a/b.json`).getMetadata();
    expect(metadata).toMatchObject({ generation: put.etag, size: '7' });
    const again = await store.put('a/b.json', '{"x":1}');
    // Same bytes, new generation: the etag says "written since", not "different content".
    expect(Number(again.etag)).toBeGreaterThan(Number(put.etag));

    // A neighbouring prefix is another store.
    expect(await gcs.store(`${prefix}/nest`).list('')).toEqual([]);
    expect(await gcs.store(prefix).list('')).toMatchObject([{ key: 'nested/a/b.json' }]);
  });

  it('skips objects in the bucket that no key can name', async () => {
    const prefix = uniquePrefix('odd');
    const store = gcs.store(prefix);
    for (const key of ['b', 'a/1']) await store.put(key, key);
    // What the console's "create folder" leaves behind.
    await gcs.client().bucket(gcs.bucket).file(`${prefix}/folder/`).save('', { resumable: false });
    expect((await store.list('')).map((o) => o.key)).toEqual(['a/1', 'b']);
  });

  it('follows list pages and sorts the keys', async () => {
    const prefix = uniquePrefix('pages');
    const store = gcs.store(prefix, { listPageSize: 2 });
    for (const key of ['c', 'a/2', 'b', 'a/1', 'd']) await store.put(key, key);
    const before = gcs.requests.length;
    expect((await store.list('')).map((o) => o.key)).toEqual(['a/1', 'a/2', 'b', 'c', 'd']);
    const lists = gcs.requests.slice(before);
    expect(lists).toHaveLength(3);
    expect(lists.every((r) => r.includes('maxResults=2') && r.includes(`prefix=${prefix}%2F`))).toBe(true);
    expect(lists.filter((r) => r.includes('pageToken='))).toHaveLength(2);
  });

  it('refuses an etag that is not a generation, without writing', async () => {
    const store = gcs.store(uniquePrefix('etag'));
    const v1 = await store.put('k', 'v1');
    await expect(store.putIfMatch('k', 'x', 'a'.repeat(64))).rejects.toThrow(`expected etag ${'a'.repeat(64)} but its etag is ${v1.etag}`);
    await expect(store.putIfMatch('k', 'x', '0')).rejects.toThrow(PreconditionFailedError);
    expect((await store.get('k')).body.toString()).toBe('v1');
  });

  it('reads one generation: body and info belong together', async () => {
    const store = gcs.store(uniquePrefix('pinned'));
    const put = await store.put('k', 'first');
    const before = gcs.requests.length;
    const { body, info } = await store.get('k');
    expect([body.toString(), info.etag]).toEqual(['first', put.etag]);
    expect(gcs.requests.slice(before).at(-1)).toMatch(new RegExp(`alt=media.*generation=${put.etag}|generation=${put.etag}.*alt=media`));
  });

  it('starts a read over when a writer replaces the object between metadata and body', async () => {
    const store = gcs.store(uniquePrefix('replaced'));
    const stale = await store.put('k', 'first');
    const fresh = await store.put('k', 'second');
    // The first metadata read sees the generation that is gone by the time the body is fetched.
    vi.spyOn(store, 'head').mockResolvedValueOnce(stale);
    const { body, info } = await store.get('k');
    expect([body.toString(), info.etag]).toEqual(['second', fresh.etag]);
  });

  it('is what openStore returns for gs:// URIs, configured from the environment', async () => {
    const prefix = uniquePrefix('env');
    const store = openStore(`gs://${gcs.bucket}/${prefix}/`, gcs.env);
    expect(store.uri).toBe(`gs://${gcs.bucket}/${prefix}`);
    await store.putIfAbsent('hello.txt', 'hi');
    expect((await gcs.store(prefix).get('hello.txt')).body.toString()).toBe('hi');
  });

  it('names the bucket when it does not exist', async () => {
    const store = new GcsStore(gcs.client(), { bucket: 'no-such-bucket', prefix: 'p' });
    await expect(store.get('k')).rejects.toThrow(/^GCS get of gs:\/\/no-such-bucket\/p\/k failed: .*HTTP 404.*bucket does not exist/);
    await expect(store.put('k', 'x')).rejects.toThrow(/^GCS put of gs:\/\/no-such-bucket\/p\/k failed: .*HTTP 404/);
  });

  it('fails fast and clearly when the store is down', async () => {
    const port = await closedPort();
    vi.stubEnv('STORAGE_EMULATOR_HOST', `http://127.0.0.1:${port}`);
    const started = Date.now();
    try {
      // Without retries, as in every test here (openStore's client retries reads twice: ~7 s).
      const store = new GcsStore(emulatorClient(), { bucket: 'models', prefix: 'prod' });
      await expect(store.get('aliases/champion.json')).rejects.toThrow(
        /^GCS get of gs:\/\/models\/prod\/aliases\/champion\.json failed: .*ECONNREFUSED/,
      );
      await expect(store.putIfMatch('a.json', 'x', '123')).rejects.toThrow(
        /^GCS putIfMatch of gs:\/\/models\/prod\/a\.json failed: .*ECONNREFUSED/,
      );
      await expect(store.putIfAbsent('a.json', 'x')).rejects.toThrow(/^GCS putIfAbsent of gs:\/\/models\/prod\/a\.json failed/);
      await expect(store.head('a.json')).rejects.toThrow(/^GCS head of gs:\/\/models\/prod\/a\.json failed/);
      await expect(store.list('versions/')).rejects.toThrow(/^GCS list of gs:\/\/models\/prod\/versions\/\* failed/);
      await expect(store.delete('a.json')).rejects.toThrow(/^GCS delete of gs:\/\/models\/prod\/a\.json failed/);
      await expect(store.downloadFile('a.json', '/nonexistent/a.json')).rejects.toThrow(
        /^GCS downloadFile to \/nonexistent\/a\.json of gs:\/\/models\/prod\/a\.json failed/,
      );
      await expect(store.uploadFile('a.json', import.meta.filename)).rejects.toThrow(
        /^GCS uploadFile from .* of gs:\/\/models\/prod\/a\.json failed/,
      );
    } finally {
      vi.unstubAllEnvs();
    }
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('parses gs:// URIs', () => {
    expect(parseGcsUri('gs://my-bucket')).toEqual({ bucket: 'my-bucket', prefix: '' });
    expect(parseGcsUri('gs://my_bucket.example.com/')).toEqual({ bucket: 'my_bucket.example.com', prefix: '' });
    expect(parseGcsUri('gs://my-bucket/a/b/')).toEqual({ bucket: 'my-bucket', prefix: 'a/b' });
    expect(() => parseGcsUri('gs:///x')).toThrow(/does not name a valid GCS bucket/);
    expect(() => parseGcsUri('gs://Bad_Bucket/x')).toThrow(/does not name a valid GCS bucket/);
    expect(() => parseGcsUri('gs://bucket/a//b')).toThrow(/invalid prefix/);
    expect(() => parseGcsUri('gs://bucket/../b')).toThrow(/invalid prefix/);
  });
});

describe('GcsStore in front of a server that hangs', () => {
  /** The client openStore builds, with a timeout short enough for a test, and no retries. */
  const hungStore = (endpoint: string, stallTimeoutMs = 30_000) => {
    const env = { STORAGE_EMULATOR_HOST: endpoint, MLOPS_STORE_RESPONSE_TIMEOUT_MS: '300' };
    const storage = new Storage({ ...gcsStorageOptionsFromEnv(env), retryOptions: { autoRetry: false, maxRetries: 0 } });
    return new GcsStore(storage, { bucket: 'models', prefix: 'prod' }, { stallTimeoutMs });
  };
  const elapsed = async (work: () => Promise<unknown>) => {
    const started = Date.now();
    await work();
    return Date.now() - started;
  };

  it('gives up on a request whose answer never comes (the connection stays open)', { timeout: 5_000 }, async () => {
    const server = await startStallingServer(neverAnswer);
    const store = hungStore(server.endpoint);
    try {
      const ms = await elapsed(async () => {
        await expect(store.get('aliases/champion.json')).rejects.toThrow(
          /^GCS get of gs:\/\/models\/prod\/aliases\/champion\.json failed: .*timeout/,
        );
        await expect(store.downloadFile('a.onnx', '/nonexistent/a.onnx')).rejects.toThrow(/^GCS downloadFile .* failed: .*timeout/);
      });
      expect(ms).toBeLessThan(2_500);
    } finally {
      await server.close();
    }
  });

  it('gives up on a download whose body stops coming, and leaves no file', { timeout: 5_000 }, async () => {
    const size = 500_000_000;
    const media = stallAfterHeaders(size, { 'x-goog-generation': '7', 'x-goog-stored-content-encoding': 'identity' });
    const server = await startStallingServer((req, res) => {
      if (req.url?.includes('alt=media')) return media(req, res);
      const name = decodeURIComponent(/\/o\/([^?]+)/.exec(req.url ?? '')?.[1] ?? '');
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ bucket: 'models', name, generation: '7', size: String(size), updated: new Date(0).toISOString() }));
    });
    const store = hungStore(server.endpoint, 300);
    const dir = await mkdtemp(join(tmpdir(), 'gcs-stall-'));
    try {
      const ms = await elapsed(async () => {
        await expect(store.downloadFile('model.onnx', join(dir, 'model.onnx'))).rejects.toThrow(
          /^GCS downloadFile to .* of gs:\/\/models\/prod\/model\.onnx failed: TimeoutError: ETIMEDOUT: no data for 300 ms/,
        );
        await expect(store.get('model.onnx')).rejects.toThrow(/^GCS get of .* failed: TimeoutError: ETIMEDOUT: no data for 300 ms/);
      });
      expect(ms).toBeLessThan(2_500);
      expect(await readdir(dir)).toEqual([]);
      expect(server.requests.filter((r) => r.includes('alt=media'))).toHaveLength(2);
    } finally {
      await server.close();
    }
  });
});

describe('the local GCS used by these tests', () => {
  it('answers ifGenerationMatch as GCS does', async () => {
    const file = gcs
      .client()
      .bucket(gcs.bucket)
      .file(`${uniquePrefix('raw')}/k`);
    const save = (ifGenerationMatch: number) =>
      file.save('x', { resumable: false, preconditionOpts: { ifGenerationMatch } }).then(
        () => `ok ${String(file.metadata.generation)}`,
        (err: { code?: unknown }) => String(err.code),
      );
    expect(await save(123)).toBe('412');
    const created = await save(0);
    expect(created).toMatch(/^ok \d+$/);
    expect(await save(0)).toBe('412');
    const generation = Number(created.slice(3));
    expect(await save(generation + 1)).toBe('412');
    expect(await save(generation)).toMatch(/^ok \d+$/);
    expect(Number(file.metadata.generation)).toBeGreaterThan(generation);
  });

  it('says what it does not implement', async () => {
    const res = await fetch(`${gcs.endpoint}/upload/storage/v1/b/${gcs.bucket}/o?uploadType=resumable&name=k`, { method: 'POST' });
    expect(res.status).toBe(501);
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
