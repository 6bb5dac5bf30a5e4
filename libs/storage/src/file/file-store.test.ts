import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { NotFoundError, PreconditionFailedError } from '../types.ts';
import { FileStore } from './file-store.ts';
import { incrementCounter } from './increment-worker.ts';

const sha256 = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');

let root: string;
let store: FileStore;

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'file-store-'));
  store = new FileStore(root);
});
afterEach(() => rm(root, { recursive: true, force: true }));

describe('FileStore', () => {
  it('round-trips objects with a content-hash etag', async () => {
    const put = await store.put('a/b/c.json', '{"x":1}');
    expect(put).toMatchObject({ key: 'a/b/c.json', size: 7, etag: sha256('{"x":1}') });
    expect(await readFile(join(root, 'a/b/c.json'), 'utf8')).toBe('{"x":1}');

    const { body, info } = await store.get('a/b/c.json');
    expect(body.toString()).toBe('{"x":1}');
    expect(info).toEqual(put);
    expect(await store.head('a/b/c.json')).toEqual(put);

    const bytes = Buffer.from([0, 1, 2, 255]);
    const replaced = await store.put('a/b/c.json', bytes);
    expect(replaced.etag).toBe(sha256(bytes));
    expect((await store.get('a/b/c.json')).body).toEqual(bytes);
    expect(store.uri).toBe(`file://${root}`);
  });

  it('reports missing objects', async () => {
    await store.put('dir/x', 'x');
    for (const key of ['missing.json', 'dir']) {
      await expect(store.get(key)).rejects.toThrow(NotFoundError);
      await expect(store.createReadStream(key)).rejects.toThrow(NotFoundError);
      await expect(store.downloadFile(key, join(root, 'out'))).rejects.toThrow(NotFoundError);
      expect(await store.head(key)).toBeUndefined();
    }
    const err = await store.get('missing.json').catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'NOT_FOUND', message: `Object "missing.json" not found in ${store.uri}` });
    await store.delete('missing.json');
    await store.delete('dir');
    await store.delete('dir/x');
    expect(await store.head('dir/x')).toBeUndefined();
  });

  it('rejects bad keys', async () => {
    for (const key of ['', '/etc/passwd', 'a//b', 'a/', '..', 'a/../../b', './a', 'a\\b', 'a/.~b.lock']) {
      await expect(store.put(key, 'x'), key).rejects.toThrow(/Invalid object key/);
      await expect(store.get(key), key).rejects.toThrow(/Invalid object key/);
    }
    await expect(store.list('../')).rejects.toThrow(/Invalid key prefix/);
    expect(await readdir(root)).toEqual([]);
  });

  it('putIfAbsent writes once', async () => {
    await store.putIfAbsent('claim', 'first');
    const err = await store.putIfAbsent('claim', 'second').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PreconditionFailedError);
    expect(err).toMatchObject({ code: 'PRECONDITION_FAILED' });
    expect((await store.get('claim')).body.toString()).toBe('first');

    const racers = await Promise.allSettled(Array.from({ length: 10 }, (_, i) => store.putIfAbsent('race', `${i}`)));
    expect(racers.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
  });

  it('putIfMatch needs the current etag', async () => {
    const v1 = await store.put('alias.json', 'v1');
    const v2 = await store.putIfMatch('alias.json', 'v2', v1.etag);
    await expect(store.putIfMatch('alias.json', 'stale', v1.etag)).rejects.toThrow(PreconditionFailedError);
    await expect(store.putIfMatch('absent.json', 'x', v1.etag)).rejects.toThrow(/does not exist/);
    expect((await store.get('alias.json')).body.toString()).toBe('v2');
    expect((await store.head('alias.json'))?.etag).toBe(v2.etag);
  });

  it('lists recursively and sorted, without temp, lock or etag files', async () => {
    for (const key of ['m/b/2', 'm/a/1', 'm/ab/3', 'm/a/.claim', 'other/x', 'top']) await store.put(key, key);
    await writeFile(join(root, 'm/a/.~1.lock'), '');
    await writeFile(join(root, 'm/a/.~1.0123.tmp'), '');
    expect((await store.list('')).map((o) => o.key)).toEqual(['m/a/.claim', 'm/a/1', 'm/ab/3', 'm/b/2', 'other/x', 'top']);
    expect((await store.list('m/a/')).map((o) => o.key)).toEqual(['m/a/.claim', 'm/a/1']);
    expect((await store.list('m/a')).map((o) => o.key)).toEqual(['m/a/.claim', 'm/a/1', 'm/ab/3']);
    expect(await store.list('nothing/here/')).toEqual([]);
    const [info] = await store.list('top');
    expect(info).toMatchObject({ key: 'top', size: 3, etag: sha256('top') });
  });

  it('rehashes an object changed behind its back', async () => {
    await store.put('k', 'old');
    await writeFile(join(root, 'k'), 'changed by hand');
    expect((await store.head('k'))?.etag).toBe(sha256('changed by hand'));
  });

  it('remembers the hash of a file dropped in by hand, and still notices the next change', async () => {
    await writeFile(join(root, 'dropped.jsonl'), 'one');
    expect((await store.head('dropped.jsonl'))?.etag).toBe(sha256('one'));
    expect(await readdir(root)).toContain('.~dropped.jsonl.etag');
    await writeFile(join(root, 'dropped.jsonl'), 'two, longer');
    expect((await store.head('dropped.jsonl'))?.etag).toBe(sha256('two, longer'));
  });

  it('streams multi-MB files in and out', async () => {
    const data = randomBytes(6 * 1024 * 1024 + 123);
    const local = join(root, 'local.bin');
    await writeFile(local, data);

    const up = await store.uploadFile('models/big/onnx/model.onnx', local);
    expect(up).toMatchObject({ size: data.length, etag: sha256(data) });
    expect(await store.head('models/big/onnx/model.onnx')).toEqual(up);

    const out = join(root, 'cache/deep/model.onnx');
    const down = await store.downloadFile('models/big/onnx/model.onnx', out);
    expect(down).toMatchObject({ size: data.length, etag: sha256(data) });
    expect((await readFile(out)).equals(data)).toBe(true);
    expect(await readdir(join(root, 'cache/deep'))).toEqual(['model.onnx']);

    const chunks: Buffer[] = [];
    for await (const chunk of await store.createReadStream('models/big/onnx/model.onnx')) chunks.push(chunk as Buffer);
    expect(Buffer.concat(chunks).equals(data)).toBe(true);
  });

  it('breaks a stale lock left by a crashed writer', async () => {
    await store.put('k', 'v1');
    const lock = join(root, '.~k.lock');
    await writeFile(lock, '12345\n');
    const old = new Date(Date.now() - 60_000);
    await utimes(lock, old, old);
    await store.put('k', 'v2');
    expect((await store.get('k')).body.toString()).toBe('v2');
    expect(await readdir(root)).not.toContain('.~k.lock');
  });

  it('loses no update when writers race with putIfMatch, in and across processes', async () => {
    await store.put('counter', '0');
    const worker = fileURLToPath(new URL('./increment-worker.ts', import.meta.url));
    const child = () =>
      new Promise<void>((resolve, reject) => {
        const proc = spawn(process.execPath, ['--import', 'tsx', worker, root, 'counter', '25'], { stdio: 'inherit' });
        proc.on('error', reject);
        proc.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`worker exited with ${code}`))));
      });
    const local = Array.from({ length: 10 }, () => incrementCounter(new FileStore(root), 'counter', 10));

    await Promise.all([child(), child(), ...local]);

    expect((await store.get('counter')).body.toString()).toBe(String(2 * 25 + 10 * 10));
    expect((await store.list('')).map((o) => o.key)).toEqual(['counter']);
    expect(await readdir(root)).toEqual(expect.arrayContaining(['counter', '.~counter.etag']));
    expect(await readdir(root)).toHaveLength(2);
  });
});
