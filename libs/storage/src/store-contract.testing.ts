// Test helper: the behaviour every ObjectStore must have, run against each store (file://, s3://…)
// by its own test file, so the stores are held to one contract.
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { incrementCounter } from './file/increment-worker.ts';
import { randomHex } from './random-hex.ts';
import { NotFoundError, PreconditionFailedError, type ObjectInfo, type ObjectStore } from './types.ts';

export interface StoreUnderTest {
  /** An empty store. */
  store: ObjectStore;
  /** Another client on the same objects, as a second process would open it. */
  reopen(): ObjectStore;
  cleanup?(): Promise<void>;
}

/** A key prefix of a test's own, for tests sharing one bucket. */
export const uniquePrefix = (label: string): string => `${label}-${randomHex(4)}`;

/** `{ key, size, etag }`: what any two reads of an unchanged object agree on (`updated` may differ in precision). */
const identity = ({ key, size, etag }: ObjectInfo) => ({ key, size, etag });

export function describeStoreContract(name: string, open: () => Promise<StoreUnderTest>): void {
  describe(`${name} (ObjectStore contract)`, () => {
    let subject: StoreUnderTest;
    let store: ObjectStore;
    /** A local folder for uploadFile/downloadFile. */
    let local: string;

    beforeEach(async () => {
      subject = await open();
      store = subject.store;
      local = await mkdtemp(join(tmpdir(), 'store-contract-'));
    });
    afterEach(async () => {
      await subject.cleanup?.();
      await rm(local, { recursive: true, force: true });
    });

    it('round-trips objects, and reads agree on size and etag', async () => {
      const put = await store.put('a/b/c.json', '{"x":1}');
      expect(put).toMatchObject({ key: 'a/b/c.json', size: 7 });
      expect(put.etag).toEqual(expect.any(String));
      expect(put.etag).not.toBe('');
      expect(put.updated).toBeInstanceOf(Date);

      const { body, info } = await store.get('a/b/c.json');
      expect(body.toString()).toBe('{"x":1}');
      expect(identity(info)).toEqual(identity(put));
      expect(info.updated).toBeInstanceOf(Date);
      expect(identity((await store.head('a/b/c.json')) as ObjectInfo)).toEqual(identity(put));
      expect((await store.list('a/')).map(identity)).toEqual([identity(put)]);

      const bytes = Buffer.from([0, 1, 2, 255]);
      const replaced = await store.put('a/b/c.json', bytes);
      expect(replaced).toMatchObject({ key: 'a/b/c.json', size: 4 });
      expect(replaced.etag).not.toBe(put.etag);
      expect((await store.get('a/b/c.json')).body).toEqual(bytes);
      expect((await store.head('a/b/c.json'))?.etag).toBe(replaced.etag);
    });

    it('reports missing objects', async () => {
      await store.put('dir/x', 'x');
      for (const key of ['missing.json', 'dir']) {
        await expect(store.get(key)).rejects.toThrow(NotFoundError);
        await expect(store.createReadStream(key)).rejects.toThrow(NotFoundError);
        await expect(store.downloadFile(key, join(local, 'out'))).rejects.toThrow(NotFoundError);
        expect(await store.head(key)).toBeUndefined();
      }
      expect(await readdir(local)).toEqual([]);
      const err = await store.get('missing.json').catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'NOT_FOUND', message: `Object "missing.json" not found in ${store.uri}` });
      await store.delete('missing.json');
      await store.delete('dir');
      expect(await store.head('dir/x')).toBeDefined();
      await store.delete('dir/x');
      expect(await store.head('dir/x')).toBeUndefined();
      expect(await store.list('')).toEqual([]);
    });

    it('rejects bad keys', async () => {
      for (const key of ['', '/etc/passwd', 'a//b', 'a/', '..', 'a/../../b', './a', 'a\\b', 'a/.~b.lock']) {
        await expect(store.put(key, 'x'), key).rejects.toThrow(/Invalid object key/);
        await expect(store.get(key), key).rejects.toThrow(/Invalid object key/);
        await expect(store.putIfAbsent(key, 'x'), key).rejects.toThrow(/Invalid object key/);
        await expect(store.delete(key), key).rejects.toThrow(/Invalid object key/);
      }
      await expect(store.list('../')).rejects.toThrow(/Invalid key prefix/);
      expect(await store.list('')).toEqual([]);
    });

    it('putIfAbsent writes once', async () => {
      const first = await store.putIfAbsent('claim', 'first');
      expect(first).toMatchObject({ key: 'claim', size: 5 });
      const err = await store.putIfAbsent('claim', 'second').catch((e: unknown) => e);
      expect(err).toBeInstanceOf(PreconditionFailedError);
      expect(err).toMatchObject({ code: 'PRECONDITION_FAILED', message: expect.stringContaining('already exists') });
      expect((await store.get('claim')).body.toString()).toBe('first');

      const racers = await Promise.allSettled(Array.from({ length: 10 }, (_, i) => subject.reopen().putIfAbsent('race', `${i}`)));
      const won = racers.flatMap((r, i) => (r.status === 'fulfilled' ? [String(i)] : []));
      expect(won).toHaveLength(1);
      expect(racers.every((r) => r.status === 'fulfilled' || r.reason instanceof PreconditionFailedError)).toBe(true);
      expect((await store.get('race')).body.toString()).toBe(won[0]);
    });

    it('putIfMatch needs the current etag', async () => {
      const v1 = await store.put('alias.json', 'v1');
      const v2 = await store.putIfMatch('alias.json', 'v2', v1.etag);
      expect(v2).toMatchObject({ key: 'alias.json', size: 2 });
      const stale = await store.putIfMatch('alias.json', 'stale', v1.etag).catch((e: unknown) => e);
      expect(stale).toBeInstanceOf(PreconditionFailedError);
      expect((stale as Error).message).toContain(`its etag is ${v2.etag}`);
      await expect(store.putIfMatch('absent.json', 'x', v1.etag)).rejects.toThrow(PreconditionFailedError);
      await expect(store.putIfMatch('absent.json', 'x', v1.etag)).rejects.toThrow(/does not exist/);
      expect(await store.head('absent.json')).toBeUndefined();
      expect((await store.get('alias.json')).body.toString()).toBe('v2');
      expect((await store.head('alias.json'))?.etag).toBe(v2.etag);
      const v3 = await store.putIfMatch('alias.json', 'v3', (await store.get('alias.json')).info.etag);
      expect((await store.head('alias.json'))?.etag).toBe(v3.etag);
    });

    it('lists recursively and sorted, by key prefix', async () => {
      const puts = new Map<string, ObjectInfo>();
      for (const key of ['m/b/2', 'm/a/1', 'm/ab/3', 'm/a/.claim', 'other/x', 'top']) puts.set(key, await store.put(key, key));
      expect((await store.list('')).map((o) => o.key)).toEqual(['m/a/.claim', 'm/a/1', 'm/ab/3', 'm/b/2', 'other/x', 'top']);
      expect((await store.list('m/a/')).map((o) => o.key)).toEqual(['m/a/.claim', 'm/a/1']);
      expect((await store.list('m/a')).map((o) => o.key)).toEqual(['m/a/.claim', 'm/a/1', 'm/ab/3']);
      expect(await store.list('nothing/here/')).toEqual([]);
      const [info] = await store.list('top');
      expect(info && identity(info)).toEqual({ key: 'top', size: 3, etag: puts.get('top')?.etag });
      expect(info?.updated).toBeInstanceOf(Date);
    });

    it('streams multi-MB files in and out', async () => {
      const data = randomBytes(6 * 1024 * 1024 + 123);
      const file = join(local, 'local.bin');
      await writeFile(file, data);

      const up = await store.uploadFile('models/big/onnx/model.onnx', file);
      expect(up).toMatchObject({ key: 'models/big/onnx/model.onnx', size: data.length });
      expect(identity((await store.head('models/big/onnx/model.onnx')) as ObjectInfo)).toEqual(identity(up));

      const out = join(local, 'cache/deep/model.onnx');
      const down = await store.downloadFile('models/big/onnx/model.onnx', out);
      expect(identity(down)).toEqual(identity(up));
      expect((await readFile(out)).equals(data)).toBe(true);
      expect(await readdir(join(local, 'cache/deep'))).toEqual(['model.onnx']);

      // Replacing a downloaded file is atomic too (rename over it).
      await store.put('models/big/onnx/model.onnx', 'small now');
      await store.downloadFile('models/big/onnx/model.onnx', out);
      expect(await readFile(out, 'utf8')).toBe('small now');
      expect(await readdir(join(local, 'cache/deep'))).toEqual(['model.onnx']);

      await store.uploadFile('models/big/onnx/model.onnx', file);
      const chunks: Buffer[] = [];
      for await (const chunk of await store.createReadStream('models/big/onnx/model.onnx')) chunks.push(chunk as Buffer);
      expect(Buffer.concat(chunks).equals(data)).toBe(true);
    });

    it('loses no update when clients race with putIfMatch', async () => {
      await store.put('counter', '0');
      await Promise.all(Array.from({ length: 8 }, () => incrementCounter(subject.reopen(), 'counter', 8)));
      expect((await store.get('counter')).body.toString()).toBe(String(8 * 8));
      expect((await store.list('')).map((o) => o.key)).toEqual(['counter']);
    });
  });
}
