import { readFile, rename, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { jsonText, randomHex, sha256OfFile } from '@mlops/storage';
import { z } from 'zod';
import type { VersionFile } from './schemas.ts';

/** Beside a cached version's files: what each looked like when its bytes last matched version.json. */
const STAMPS_FILE = '.verified.json';

/**
 * File timestamps come from a coarse clock (a few ms on ext4, 2 s on FAT). A file whose ctime is
 * within this of the stat could change again in the same tick without its times showing it, so it
 * is not stamped: the next call hashes it again.
 */
const TIMESTAMP_TICK_MS = 2_000;

const StampSchema = z.object({
  sha256: z.string(),
  size: z.number(),
  mtimeMs: z.number(),
  /** Any write, utimes or chmod moves it, and no unprivileged call can set it back. */
  ctimeMs: z.number(),
  /** A file renamed into its place (a concurrent download) has another inode. */
  ino: z.number(),
});
type Stamp = z.infer<typeof StampSchema>;
const StampsSchema = z.record(z.string(), StampSchema);

type Seen = Omit<Stamp, 'sha256'> & { atMs: number };

/**
 * The files of one cached version folder, each hashed once: a file still as it was stamped (same
 * size, mtime, ctime and inode) is trusted without reading it; any change to it is hashed again.
 */
export class VerifiedCache {
  private changed = false;

  private constructor(
    private readonly dir: string,
    private readonly stamps: Record<string, Stamp>,
  ) {}

  static async open(dir: string): Promise<VerifiedCache> {
    const text = await readFile(join(dir, STAMPS_FILE), 'utf8').catch(() => undefined);
    let json: unknown;
    try {
      json = text === undefined ? {} : JSON.parse(text);
    } catch {
      json = {}; // unreadable stamps only cost a hash
    }
    const parsed = StampsSchema.safeParse(json);
    return new VerifiedCache(dir, parsed.success ? parsed.data : {});
  }

  /** Whether the cached copy holds `file`'s bytes: from its stamp when unchanged since, else by hashing it. */
  async holds(file: VersionFile): Promise<boolean> {
    const local = join(this.dir, file.path);
    // Taken before hashing: a change while the hash runs moves the ctime past the stamp's.
    const seen = await seenOf(local);
    const stamp = this.stamps[file.path];
    if (seen && stamp && stamp.sha256 === file.sha256 && sameFile(stamp, seen)) return true;
    if (stamp) this.forget(file.path);
    if (seen?.size !== file.size || (await sha256OfFile(local)) !== file.sha256) return false;
    if (seen.atMs - seen.ctimeMs >= TIMESTAMP_TICK_MS) {
      this.stamps[file.path] = { sha256: file.sha256, size: seen.size, mtimeMs: seen.mtimeMs, ctimeMs: seen.ctimeMs, ino: seen.ino };
      this.changed = true;
    }
    return true;
  }

  /** Writes the stamps, atomically, when they changed. */
  async save(): Promise<void> {
    if (!this.changed) return;
    const tmp = join(this.dir, `${STAMPS_FILE}.${randomHex(6)}.tmp`);
    await writeFile(tmp, jsonText(this.stamps));
    await rename(tmp, join(this.dir, STAMPS_FILE));
    this.changed = false;
  }

  private forget(path: string): void {
    delete this.stamps[path];
    this.changed = true;
  }
}

async function seenOf(path: string): Promise<Seen | undefined> {
  const atMs = Date.now();
  const s = await stat(path).catch(() => undefined);
  return s?.isFile() ? { size: s.size, mtimeMs: s.mtimeMs, ctimeMs: s.ctimeMs, ino: s.ino, atMs } : undefined;
}

function sameFile(stamp: Stamp, seen: Seen): boolean {
  return stamp.size === seen.size && stamp.mtimeMs === seen.mtimeMs && stamp.ctimeMs === seen.ctimeMs && stamp.ino === seen.ino;
}
