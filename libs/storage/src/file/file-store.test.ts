import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { describeStoreContract } from '../store-contract.testing.ts';
import { FileStore } from './file-store.ts';
import { incrementCounter } from './increment-worker.ts';

const sha256 = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');

describeStoreContract('FileStore', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'file-store-contract-'));
  return { store: new FileStore(dir), reopen: () => new FileStore(dir), cleanup: () => rm(dir, { recursive: true, force: true }) };
});

describe('FileStore', () => {
  let root: string;
  let store: FileStore;

  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'file-store-'));
    store = new FileStore(root);
  });
  afterEach(() => rm(root, { recursive: true, force: true }));

  it('keeps objects as plain files with a sha256 etag', async () => {
    const put = await store.put('a/b/c.json', '{"x":1}');
    expect(put).toMatchObject({ key: 'a/b/c.json', size: 7, etag: sha256('{"x":1}') });
    expect(await readFile(join(root, 'a/b/c.json'), 'utf8')).toBe('{"x":1}');
    const { info } = await store.get('a/b/c.json');
    expect(info).toEqual(put);
    expect(await store.head('a/b/c.json')).toEqual(put);
    expect(store.uri).toBe(`file://${root}`);
  });

  it('writes nothing for bad keys', async () => {
    for (const key of ['/etc/passwd', 'a/../../b', 'a/.~b.lock'])
      await expect(store.put(key, 'x'), key).rejects.toThrow(/Invalid object key/);
    expect(await readdir(root)).toEqual([]);
  });

  it('lists without temp, lock or etag files', async () => {
    for (const key of ['m/a/1', 'top']) await store.put(key, key);
    await writeFile(join(root, 'm/a/.~1.lock'), '');
    await writeFile(join(root, 'm/a/.~1.0123.tmp'), '');
    expect((await store.list('')).map((o) => o.key)).toEqual(['m/a/1', 'top']);
    const [info] = await store.list('top');
    expect(info).toMatchObject({ key: 'top', size: 3, etag: sha256('top') });
  });

  it('streams files in and out with their sha256', async () => {
    const data = randomBytes(3 * 1024 * 1024 + 7);
    const local = join(root, 'local.bin');
    await writeFile(local, data);
    const up = await store.uploadFile('models/m.onnx', local);
    expect(up).toMatchObject({ size: data.length, etag: sha256(data) });
    expect(await store.head('models/m.onnx')).toEqual(up);
    const down = await store.downloadFile('models/m.onnx', join(root, 'cache/m.onnx'));
    expect(down).toMatchObject({ size: data.length, etag: sha256(data) });
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
