import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, open, readdir, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { describeStoreContract } from '../store-contract.testing.ts';
import { LockLostError, withFileLock } from './file-lock.ts';
import { FileStore } from './file-store.ts';
import { incrementCounter } from './increment-worker.ts';

const sha256 = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');

/** A lock left by a crashed writer: a foreign owner token, last renewed a minute ago. */
async function plantStaleLock(lock: string): Promise<void> {
  await writeFile(lock, '99999.0123456789abcdef\n');
  const old = new Date(Date.now() - 60_000);
  await utimes(lock, old, old);
}

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

  /** 2 processes incrementing 25 times and 10 stores here 10 times; `meanwhile` runs until they finish. */
  const raceIncrements = async (meanwhile?: (racing: () => boolean) => Promise<void>) => {
    const worker = fileURLToPath(new URL('./increment-worker.ts', import.meta.url));
    const child = () =>
      new Promise<void>((resolve, reject) => {
        const proc = spawn(process.execPath, ['--import', 'tsx', worker, root, 'counter', '25'], { stdio: 'inherit' });
        proc.on('error', reject);
        proc.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`worker exited with ${code}`))));
      });
    const local = Array.from({ length: 10 }, () => incrementCounter(new FileStore(root), 'counter', 10));

    let racing = true;
    const writers = Promise.all([child(), child(), ...local]).finally(() => (racing = false));
    await Promise.all([writers, meanwhile?.(() => racing)]);

    expect((await store.get('counter')).body.toString()).toBe(String(2 * 25 + 10 * 10));
    expect((await store.list('')).map((o) => o.key)).toEqual(['counter']);
    expect(await readdir(root)).toEqual(expect.arrayContaining(['counter', '.~counter.etag']));
    expect(await readdir(root)).toHaveLength(2);
  };

  it('loses no update when writers race with putIfMatch, in and across processes', async () => {
    await store.put('counter', '0');
    await raceIncrements();
  });

  it('loses no update when the racing writers keep finding stale locks left by crashed writers', async () => {
    await store.put('counter', '0');
    const lock = join(root, '.~counter.lock');
    await plantStaleLock(lock);
    // While they race, writers keep "crashing" holding the lock: one takes it (wx) and dies, and its
    // lock is found a minute old.
    let crashed = 0;
    const crashingWriters = async (racing: () => boolean) => {
      while (racing()) {
        await sleep(1);
        const handle = await open(lock, 'wx').catch(() => undefined);
        if (!handle) continue;
        await handle.writeFile('99999.crashed\n');
        const old = new Date(Date.now() - 60_000);
        await handle.utimes(old, old);
        await handle.close();
        crashed++;
      }
    };
    await raceIncrements(async (racing) => {
      await Promise.all([crashingWriters(racing), crashingWriters(racing), crashingWriters(racing)]);
      // Break the last one, if left, with a write that changes nothing.
      const { body, info } = await store.get('counter');
      await store.putIfMatch('counter', body, info.etag);
    });
    expect(crashed).toBeGreaterThan(10);
  });

  it('lets exactly one of the writers that break the same stale lock commit', async () => {
    for (let round = 0; round < 20; round++) {
      const { etag } = await store.put('k', 'base');
      await plantStaleLock(join(root, '.~k.lock'));
      const writers = Array.from({ length: 8 }, (_, i) => new FileStore(root).putIfMatch('k', `writer ${i}`, etag));
      const outcomes = await Promise.allSettled(writers);
      const won = outcomes.filter((o) => o.status === 'fulfilled');
      expect(won, `round ${round}`).toHaveLength(1);
      expect(outcomes.filter((o) => o.status === 'rejected').map((o) => (o.reason as Error).name)).toEqual(
        Array(7).fill('PreconditionFailedError'),
      );
    }
    expect(await readdir(root)).toEqual(['.~k.etag', 'k']);
  });

  it('fails a write whose lock was broken and taken by another writer, and leaves that lock', async () => {
    const big = randomBytes(64 * 1024 * 1024);
    const { etag } = await store.put('k', big);
    const lock = join(root, '.~k.lock');
    // putIfMatch hashes the current 64 MiB under the lock: take its lock away meanwhile.
    const write = store.putIfMatch('k', 'new', etag);
    while (!(await stat(lock).catch(() => undefined))) await sleep(0);
    await rm(lock);
    await writeFile(lock, 'other writer\n');

    await expect(write).rejects.toThrow(LockLostError);
    expect(await readFile(lock, 'utf8')).toBe('other writer\n');
    expect((await store.head('k'))?.etag).toBe(etag);
  });
});

describe('withFileLock', () => {
  let root: string;
  let lock: string;

  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'file-lock-'));
    lock = join(root, '.~k.lock');
  });
  afterEach(() => rm(root, { recursive: true, force: true }));

  it('lets one waiter in at a time when several break the same stale lock at once', async () => {
    let inside = 0;
    let most = 0;
    const hold = async () => {
      most = Math.max(most, ++inside);
      await sleep(2);
      inside--;
    };
    for (let round = 0; round < 20; round++) {
      await plantStaleLock(lock);
      await Promise.all(Array.from({ length: 8 }, () => withFileLock(lock, 30_000, hold)));
    }
    expect(most).toBe(1);
    expect(await readdir(root)).toEqual([]);
  });

  it('keeps the lock of a holder that runs past the stale threshold: the next writer waits', async () => {
    const events: string[] = [];
    const first = withFileLock(lock, 200, async (held) => {
      events.push('first in');
      await sleep(700);
      await held.assertHeld();
      events.push('first out');
    });
    await sleep(50);
    const second = withFileLock(lock, 200, async () => {
      events.push('second in');
    });
    await Promise.all([first, second]);
    expect(events).toEqual(['first in', 'first out', 'second in']);
  });

  it('on release, does not delete the lock another writer took after breaking ours', async () => {
    let assertion: unknown;
    await withFileLock(lock, 30_000, async (held) => {
      // As if we stalled past the threshold: a waiter broke our lock and took it.
      await rm(lock);
      await writeFile(lock, 'other writer\n');
      assertion = await held.assertHeld().catch((err: unknown) => err);
    });
    expect(await readFile(lock, 'utf8')).toBe('other writer\n');
    expect(assertion).toBeInstanceOf(LockLostError);
    expect(await readdir(root)).toEqual(['.~k.lock']);
  });
});
