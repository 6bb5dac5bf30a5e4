import { createHash, type Hash } from 'node:crypto';
import { createReadStream, createWriteStream, type BigIntStats } from 'node:fs';
import { link, mkdir, open, readFile, readdir, rename, rm, stat, writeFile, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import { RESERVED_SEGMENT_PREFIX, assertValidKey, assertValidPrefix } from '../keys.ts';
import { randomHex } from '../random-hex.ts';
import { NotFoundError, PreconditionFailedError, type ObjectInfo, type ObjectStore } from '../types.ts';

/**
 * Temp, lock and etag files live beside their object as `.~<name>.<suffix>`; keys may not use
 * that prefix, so list() can skip them and they stay on the object's filesystem (rename is atomic).
 */
const INTERNAL = RESERVED_SEGMENT_PREFIX;
/** Locks are held for milliseconds; one this old belongs to a crashed writer. */
const STALE_LOCK_MS = 30_000;

type Condition = { kind: 'none' } | { kind: 'absent' } | { kind: 'match'; etag: string };

/**
 * An object store in a local folder. The etag is the sha256 of the content. A sidecar caches it
 * with the file's (inode, size, mtime) so head() and list() do not rehash; a sidecar that does not
 * match the file (written by hand, or a crash mid-write) is ignored and the file is hashed.
 */
export class FileStore implements ObjectStore {
  readonly uri: string;

  constructor(readonly root: string) {
    this.uri = pathToFileURL(root).href;
  }

  async get(key: string): Promise<{ body: Buffer; info: ObjectInfo }> {
    const handle = await this.openForRead(key);
    try {
      const st = await handle.stat({ bigint: true });
      const body = await handle.readFile();
      const etag = createHash('sha256').update(body).digest('hex');
      return { body, info: { key, size: body.length, etag, updated: st.mtime } };
    } finally {
      await handle.close();
    }
  }

  async head(key: string): Promise<ObjectInfo | undefined> {
    const path = this.pathOf(key);
    const st = await stat(path, { bigint: true }).catch(ifMissing(undefined));
    if (!st?.isFile()) return undefined;
    return { key, size: Number(st.size), etag: await cachedEtag(path, st), updated: st.mtime };
  }

  put(key: string, body: Buffer | string): Promise<ObjectInfo> {
    return this.writeBody(key, body, { kind: 'none' });
  }

  putIfAbsent(key: string, body: Buffer | string): Promise<ObjectInfo> {
    return this.writeBody(key, body, { kind: 'absent' });
  }

  putIfMatch(key: string, body: Buffer | string, etag: string): Promise<ObjectInfo> {
    return this.writeBody(key, body, { kind: 'match', etag });
  }

  uploadFile(key: string, localPath: string): Promise<ObjectInfo> {
    return this.write(key, { kind: 'none' }, async (tmp) => {
      const hash = createHash('sha256');
      await pipeline(createReadStream(localPath), hashing(hash), createWriteStream(tmp, { flags: 'wx' }));
      return hash.digest('hex');
    });
  }

  async list(prefix: string): Promise<ObjectInfo[]> {
    assertValidPrefix(prefix);
    const keys = await this.walk(prefix.slice(0, prefix.lastIndexOf('/') + 1), prefix);
    const infos = await mapLimit(keys.sort(), 16, (key) => this.head(key));
    return infos.filter((info): info is ObjectInfo => info !== undefined);
  }

  async delete(key: string): Promise<void> {
    const path = this.pathOf(key);
    if (!(await stat(path).catch(ifMissing(undefined)))?.isFile()) return;
    await this.withLock(path, async () => {
      await rm(path, { force: true });
      await rm(internalPath(path, 'etag'), { force: true });
    });
  }

  async createReadStream(key: string): Promise<NodeJS.ReadableStream> {
    return (await this.openForRead(key)).createReadStream();
  }

  async downloadFile(key: string, localPath: string): Promise<ObjectInfo> {
    const handle = await this.openForRead(key);
    const tmp = `${localPath}.${randomHex(6)}.tmp`;
    try {
      const st = await handle.stat({ bigint: true });
      await mkdir(dirname(localPath), { recursive: true });
      const hash = createHash('sha256');
      await pipeline(handle.createReadStream({ autoClose: false }), hashing(hash), createWriteStream(tmp, { flags: 'wx' }));
      await rename(tmp, localPath);
      return { key, size: Number(st.size), etag: hash.digest('hex'), updated: st.mtime };
    } finally {
      await rm(tmp, { force: true });
      await handle.close();
    }
  }

  private pathOf(key: string): string {
    assertValidKey(key);
    return join(this.root, key);
  }

  private async openForRead(key: string): Promise<FileHandle> {
    const handle = await open(this.pathOf(key), 'r').catch(ifMissing(undefined));
    if (handle && (await handle.stat()).isFile()) return handle;
    await handle?.close();
    throw new NotFoundError(key, this.uri);
  }

  private writeBody(key: string, body: Buffer | string, condition: Condition): Promise<ObjectInfo> {
    return this.write(key, condition, async (tmp) => {
      await writeFile(tmp, body, { flag: 'wx' });
      return createHash('sha256').update(body).digest('hex');
    });
  }

  /** Fills a temp file outside the lock (it may be large), then commits it under the key's lock. */
  private async write(key: string, condition: Condition, fill: (tmp: string) => Promise<string>): Promise<ObjectInfo> {
    const path = this.pathOf(key);
    await mkdir(dirname(path), { recursive: true });
    const tmp = internalPath(path, `${randomHex(6)}.tmp`);
    try {
      const sha256 = await fill(tmp);
      return await this.withLock(path, () => this.commit(key, path, tmp, sha256, condition));
    } finally {
      await rm(tmp, { force: true });
    }
  }

  private async commit(key: string, path: string, tmp: string, sha256: string, condition: Condition): Promise<ObjectInfo> {
    if (condition.kind === 'absent' && (await stat(path).catch(ifMissing(undefined)))) {
      throw new PreconditionFailedError(key, this.uri, 'the object already exists');
    }
    if (condition.kind === 'match') {
      // Hash the current content rather than trust the sidecar: this check is what CAS rests on.
      const current = await sha256OfFile(path).catch(ifMissing(undefined));
      if (current !== condition.etag) {
        const reason = current === undefined ? 'the object does not exist' : `its etag is ${current}`;
        throw new PreconditionFailedError(key, this.uri, `expected etag ${condition.etag} but ${reason}`);
      }
    }
    const st = await stat(tmp, { bigint: true });
    // Sidecar before the object: it names the temp file's inode, which the object keeps after rename.
    await writeAtomic(internalPath(path, 'etag'), `${sha256} ${fingerprint(st)}`);
    if (condition.kind === 'absent') {
      // link fails with EEXIST, so this stays atomic even if a stale lock was wrongly broken.
      await link(tmp, path).catch((err: unknown) => {
        if (errorCode(err) === 'EEXIST') throw new PreconditionFailedError(key, this.uri, 'the object already exists');
        throw err;
      });
    } else {
      await rename(tmp, path);
    }
    return { key, size: Number(st.size), etag: sha256, updated: st.mtime };
  }

  private async withLock<T>(path: string, fn: () => Promise<T>): Promise<T> {
    const lock = internalPath(path, 'lock');
    for (let attempt = 0; ; attempt++) {
      try {
        await writeFile(lock, `${process.pid}\n`, { flag: 'wx' });
        break;
      } catch (err) {
        if (errorCode(err) !== 'EEXIST') throw err;
        const held = await stat(lock).catch(ifMissing(undefined));
        if (held && Date.now() - held.mtimeMs > STALE_LOCK_MS) await rm(lock, { force: true });
        else await sleep(Math.random() * Math.min(20, 2 ** attempt));
      }
    }
    try {
      return await fn();
    } finally {
      await rm(lock, { force: true });
    }
  }

  /** Keys under `dir` (a key prefix ending in '/', or '') that start with `prefix`. */
  private async walk(dir: string, prefix: string): Promise<string[]> {
    const entries = await readdir(join(this.root, dir), { withFileTypes: true }).catch(ifMissing([]));
    const nested = await Promise.all(
      entries.map(async (entry) => {
        if (entry.name.startsWith(INTERNAL)) return [];
        const key = `${dir}${entry.name}`;
        if (entry.isFile()) return key.startsWith(prefix) ? [key] : [];
        const sub = `${key}/`;
        if (entry.isDirectory() && (sub.startsWith(prefix) || prefix.startsWith(sub))) return this.walk(sub, prefix);
        return [];
      }),
    );
    return nested.flat();
  }
}

function internalPath(path: string, suffix: string): string {
  return join(dirname(path), `${INTERNAL}${basename(path)}.${suffix}`);
}

function fingerprint(st: BigIntStats): string {
  return `${st.ino}:${st.size}:${st.mtimeNs}`;
}

async function cachedEtag(path: string, st: BigIntStats): Promise<string> {
  const sidecar = await readFile(internalPath(path, 'etag'), 'utf8').catch(ifMissing(''));
  const [sha256, print] = sidecar.split(' ');
  if (sha256 && print === fingerprint(st)) return sha256;
  // A file written by hand (e.g. dropped into an inbox) has no sidecar yet: hash it once and keep
  // the result. A stale fingerprint only ever causes a rehash, so this write needs no lock.
  const hashed = await sha256OfFile(path);
  await writeAtomic(internalPath(path, 'etag'), `${hashed} ${fingerprint(st)}`).catch(() => undefined);
  return hashed;
}

/** sha256 hex of a local file, streamed. */
export async function sha256OfFile(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

async function writeAtomic(path: string, data: string): Promise<void> {
  const tmp = `${path}.${randomHex(6)}.tmp`;
  try {
    await writeFile(tmp, data, { flag: 'wx' });
    await rename(tmp, path);
  } finally {
    await rm(tmp, { force: true });
  }
}

function hashing(hash: Hash): Transform {
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      hash.update(chunk);
      done(null, chunk);
    },
  });
}

/** Bounded concurrency, so listing thousands of objects does not exhaust file descriptors. */
async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

function errorCode(err: unknown): unknown {
  return (err as NodeJS.ErrnoException | undefined)?.code;
}

/** For `.catch`: a missing file (or a file where a directory was expected) becomes `fallback`. */
function ifMissing<T>(fallback: T): (err: unknown) => T {
  return (err) => {
    const code = errorCode(err);
    if (code === 'ENOENT' || code === 'ENOTDIR') return fallback;
    throw err;
  };
}
