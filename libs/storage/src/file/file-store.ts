import { createHash, type Hash } from 'node:crypto';
import { createReadStream, createWriteStream, type BigIntStats } from 'node:fs';
import { link, mkdir, open, readFile, readdir, rename, rm, stat, writeFile, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { pathToFileURL } from 'node:url';
import { RESERVED_SEGMENT_PREFIX, assertValidKey, assertValidPrefix } from '../keys.ts';
import { randomHex } from '../random-hex.ts';
import { NotFoundError, PreconditionFailedError, type ObjectInfo, type ObjectStore } from '../types.ts';
import { withFileLock, type HeldLock } from './file-lock.ts';
import { errorCode, ifMissing } from './fs-errors.ts';

/**
 * Temp, lock and etag files live beside their object as `.~<name>.<suffix>`; keys may not use
 * that prefix, so list() can skip them and they stay on the object's filesystem (rename is atomic).
 */
const INTERNAL = RESERVED_SEGMENT_PREFIX;
/** Locks are held for milliseconds and renewed while held; one this old belongs to a crashed writer. */
const STALE_LOCK_MS = 30_000;

export interface FileStoreOptions {
  /** A lock not renewed for this long is broken as stale (default 30 s); tests shorten it. */
  staleLockMs?: number;
}

type Condition = { kind: 'none' } | { kind: 'absent' } | { kind: 'match'; etag: string };

/**
 * An object store in a local folder. The etag is the sha256 of the content. A sidecar caches it
 * with the file's (inode, size, mtime) so head() and list() do not rehash; a sidecar that does not
 * match the file (written by hand, or a crash mid-write) is ignored and the file is hashed.
 */
export class FileStore implements ObjectStore {
  readonly uri: string;
  private readonly staleLockMs: number;

  constructor(
    readonly root: string,
    options: FileStoreOptions = {},
  ) {
    this.uri = pathToFileURL(root).href;
    this.staleLockMs = options.staleLockMs ?? STALE_LOCK_MS;
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
      // flush: fsync before close, so the renamed file is not empty after a power cut.
      await pipeline(createReadStream(localPath), hashing(hash), createWriteStream(tmp, { flags: 'wx', flush: true }));
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
    await this.withLock(path, async (held) => {
      await held.assertHeld();
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
      await writeDurably(tmp, body);
      return createHash('sha256').update(body).digest('hex');
    });
  }

  /**
   * Fills and fsyncs a temp file, and writes its sidecar's, outside the lock (the file may be large,
   * and an fsync takes milliseconds), then commits both under the key's lock with renames.
   */
  private async write(key: string, condition: Condition, fill: (tmp: string) => Promise<string>): Promise<ObjectInfo> {
    const path = this.pathOf(key);
    await mkdir(dirname(path), { recursive: true });
    const tmp = internalPath(path, `${randomHex(6)}.tmp`);
    const sidecar = internalPath(path, 'etag');
    const sidecarTmp = `${sidecar}.${randomHex(6)}.tmp`;
    try {
      const sha256 = await fill(tmp);
      const st = await stat(tmp, { bigint: true });
      // The sidecar names the temp file's inode, which the object keeps after rename. It is not
      // fsynced: after a power cut an empty or old sidecar does not match the object and is ignored.
      await writeFile(sidecarTmp, `${sha256} ${fingerprint(st)}`, { flag: 'wx' });
      const info: ObjectInfo = { key, size: Number(st.size), etag: sha256, updated: st.mtime };
      await this.withLock(path, (held) => this.commit(key, path, tmp, { sidecarTmp, sidecar }, condition, held));
      // Make the renames durable too; after the lock, which this would hold for milliseconds more.
      await syncDir(dirname(path));
      return info;
    } finally {
      await rm(tmp, { force: true });
      await rm(sidecarTmp, { force: true });
    }
  }

  private async commit(
    key: string,
    path: string,
    tmp: string,
    { sidecarTmp, sidecar }: { sidecarTmp: string; sidecar: string },
    condition: Condition,
    held: HeldLock,
  ): Promise<void> {
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
    // After the last read (the etag check) and before the first write: a writer that stalled past the
    // stale threshold and lost its lock fails here instead of committing over the next holder. It
    // also renews the lock, so it cannot be broken during the two renames below.
    await held.assertHeld();
    // Sidecar before the object (a sidecar that does not match its object is ignored).
    await rename(sidecarTmp, sidecar);
    if (condition.kind === 'absent') {
      // link fails with EEXIST, so this stays atomic even if a stale lock was wrongly broken.
      await link(tmp, path).catch((err: unknown) => {
        if (errorCode(err) === 'EEXIST') throw new PreconditionFailedError(key, this.uri, 'the object already exists');
        throw err;
      });
    } else {
      await rename(tmp, path);
    }
  }

  private withLock<T>(path: string, fn: (held: HeldLock) => Promise<T>): Promise<T> {
    return withFileLock(internalPath(path, 'lock'), this.staleLockMs, fn);
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

/** Used for sidecars only: not fsynced, since a sidecar that does not match its object is ignored. */
async function writeAtomic(path: string, data: string): Promise<void> {
  const tmp = `${path}.${randomHex(6)}.tmp`;
  try {
    await writeFile(tmp, data, { flag: 'wx' });
    await rename(tmp, path);
  } finally {
    await rm(tmp, { force: true });
  }
}

/** Creates `path` (it must not exist) with `data`, fsynced, so a later rename never exposes an empty file. */
async function writeDurably(path: string, data: Buffer | string): Promise<void> {
  const handle = await open(path, 'wx');
  try {
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** fsync a directory, so a rename into it survives a power cut (where the platform allows it). */
async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r').catch(() => undefined);
  if (!handle) return;
  try {
    await handle.sync().catch(() => undefined);
  } finally {
    await handle.close();
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
