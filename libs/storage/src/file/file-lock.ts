import { type BigIntStats } from 'node:fs';
import { open, readFile, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { RESERVED_SEGMENT_PREFIX } from '../keys.ts';
import { randomHex } from '../random-hex.ts';
import { errorCode, ifMissing } from './fs-errors.ts';

/** Thrown when a holder finds its lock was broken as stale (it stalled for longer than the threshold). */
export class LockLostError extends Error {
  constructor(readonly lock: string) {
    super(`lost the lock ${lock}: it was broken as stale while held`);
    this.name = 'LockLostError';
  }
}

export interface HeldLock {
  /**
   * Throws LockLostError unless the lock file still holds this holder's token, and renews it. Call
   * it after the last read and right before the irreversible step: the renewed lock then cannot be
   * broken for another `staleMs`.
   */
  assertHeld(): Promise<void>;
}

/**
 * Runs fn while holding the lock file `lock` (created with `wx`, holding a unique owner token).
 *
 * - The holder renews the lock's mtime every staleMs/3 while fn runs, so only a dead (or stalled)
 *   holder's lock gets older than staleMs; such a lock may be broken by a waiter.
 * - Breaking is not "stat, then rm" (two breakers could both rm, the second removing the lock the
 *   first has just taken). Breakers take turns through a `.break` marker; the one holding it
 *   re-stats the lock, renames it aside to a unique name (rename is atomic: the path is never
 *   half-moved), and checks that what it moved is exactly what it saw as stale (same inode and
 *   mtime). If not (its holder renewed it, or released it and another writer took it, between stat
 *   and rename), it renames it back; else it deletes it, and the waiters race with `wx` again.
 * - Release moves the lock aside the same way and deletes it only if it holds our token, so a holder
 *   whose lock was broken never deletes the next holder's lock.
 * - What is left: a holder stalled (not just slow) for longer than staleMs loses its lock. It learns
 *   so at assertHeld, which FileStore calls right before it commits; a stall of staleMs between
 *   assertHeld and the commit's rename is not caught. A breaker that crashes holding the marker
 *   delays breaking by staleMs.
 */
export async function withFileLock<T>(lock: string, staleMs: number, fn: (held: HeldLock) => Promise<T>): Promise<T> {
  const token = `${process.pid}.${randomHex(8)}\n`;
  const handle = await acquire(lock, token, staleMs);
  let lost = false;
  let renewing: Promise<void> = Promise.resolve();
  // Renew through the handle: it touches our inode only, even if the path now names another lock.
  const renew = () =>
    (renewing = renewing
      .catch(() => undefined)
      .then(async () => {
        const now = new Date();
        await handle.utimes(now, now);
        lost = (await tokenAt(lock)) !== token;
      }));
  const timer = setInterval(() => void renew().catch(() => undefined), staleMs / 3);
  timer.unref();
  const held: HeldLock = {
    assertHeld: async () => {
      await renew();
      if (lost) throw new LockLostError(lock);
    },
  };
  try {
    return await fn(held);
  } finally {
    clearInterval(timer);
    await renewing.catch(() => undefined);
    await handle.close();
    await release(lock, token);
  }
}

async function acquire(lock: string, token: string, staleMs: number): Promise<FileHandle> {
  for (let attempt = 0; ; attempt++) {
    let handle: FileHandle | undefined;
    try {
      handle = await open(lock, 'wx');
      await handle.writeFile(token);
      return handle;
    } catch (err) {
      if (handle) {
        await handle.close();
        await rm(lock, { force: true });
        throw err;
      }
      if (errorCode(err) !== 'EEXIST') throw err;
    }
    const seen = await stat(lock, { bigint: true }).catch(ifMissing(undefined));
    if (!seen) continue;
    if (isStale(seen, staleMs) && (await breakStale(lock, staleMs))) continue;
    await sleep(Math.random() * Math.min(20, 2 ** attempt));
  }
}

/** True if it removed the stale lock. */
async function breakStale(lock: string, staleMs: number): Promise<boolean> {
  // Breakers take turns through a marker (wx), so none can rename away a lock another breaker has
  // just taken: between our stat and rename the lock can change only if its stalled holder wakes.
  const marker = `${lock}.break`;
  if (!(await createEmpty(marker))) {
    // Someone is breaking it (that takes milliseconds); a marker this old was left by a crashed breaker.
    const st = await stat(marker).catch(ifMissing(undefined));
    if (st && Date.now() - st.mtimeMs > staleMs) await rm(marker, { force: true });
    return false;
  }
  try {
    const seen = await stat(lock, { bigint: true }).catch(ifMissing(undefined));
    if (!seen) return true;
    if (!isStale(seen, staleMs)) return false;
    const aside = asidePath(lock);
    if (!(await rename(lock, aside).then(() => true, ifMissing(false)))) return true;
    const moved = await stat(aside, { bigint: true });
    if (moved.ino === seen.ino && moved.mtimeNs === seen.mtimeNs) {
      await rm(aside, { force: true });
      return true;
    }
    await rename(aside, lock); // renewed or re-taken since our stat: a live lock, put it back
    return false;
  } finally {
    await rm(marker, { force: true });
  }
}

function isStale(st: BigIntStats, staleMs: number): boolean {
  return Date.now() - Number(st.mtimeMs) > staleMs;
}

async function createEmpty(path: string): Promise<boolean> {
  try {
    await (await open(path, 'wx')).close();
    return true;
  } catch (err) {
    if (errorCode(err) === 'EEXIST') return false;
    throw err;
  }
}

async function release(lock: string, token: string): Promise<void> {
  if ((await tokenAt(lock)) !== token) return; // lost: the lock (if any) is someone else's
  const aside = asidePath(lock);
  if (!(await rename(lock, aside).then(() => true, ifMissing(false)))) return;
  if ((await tokenAt(aside)) === token) await rm(aside, { force: true });
  else await rename(aside, lock); // taken over between our read and rename: not ours to delete
}

async function tokenAt(path: string): Promise<string | undefined> {
  return readFile(path, 'utf8').catch(ifMissing(undefined));
}

/** `.~<name>.<random>.broken` beside the lock: the reserved prefix keeps it out of list(). */
function asidePath(lock: string): string {
  const name = basename(lock);
  const internal = name.startsWith(RESERVED_SEGMENT_PREFIX) ? name : `${RESERVED_SEGMENT_PREFIX}${name}`;
  return join(dirname(lock), `${internal}.${randomHex(6)}.broken`);
}
