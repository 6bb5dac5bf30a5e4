/**
 * A deployment package zip written by yazl, streamed: one file is read at a time and the archive
 * goes straight to disk, zip64 where sizes or counts need it. Lambda and Cloud Functions unpack
 * standard zips and keep the unix mode bits (yazl stores each file's mode).
 */
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ZipFile } from 'yazl';

/**
 * 1980-01-01 00:00, the first DOS date, in local time since DOS times have no zone; the same folder
 * then gives the same bytes (and hash) on any machine. forceDosTimestamp leaves out the unix
 * mtime field, which would differ between time zones.
 */
const FIXED_ENTRY_OPTIONS = { mtime: new Date(1980, 0, 1), forceDosTimestamp: true, compressionLevel: 9 } as const;

export interface ZipResult {
  bytes: number;
  /** Hex sha256 of the archive, computed while it was written. */
  sha256: string;
}

/** Regular files under `dir`, sorted (symlinks are left out, as a deployment package would not resolve them). */
async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const dirent of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, dirent.name);
    if (dirent.isDirectory()) out.push(...(await filesUnder(path)));
    else if (dirent.isFile()) out.push(path);
  }
  return out.sort();
}

/** Zips every file under `dir` (names relative to it) into `zipFile`. */
export async function zipFolder(dir: string, zipFile: string): Promise<ZipResult> {
  const zip = new ZipFile();
  const hash = createHash('sha256');
  let bytes = 0;
  const measure = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      hash.update(chunk);
      bytes += chunk.length;
      done(null, chunk);
    },
  });
  // yazl reports a file it cannot read on the ZipFile, not on its output stream: stop the pipeline with it.
  const abort = new AbortController();
  let zipError: unknown;
  zip.on('error', (error: unknown) => {
    zipError = error;
    abort.abort(error);
  });
  for (const path of await filesUnder(dir)) zip.addFile(path, relative(dir, path).split(sep).join('/'), FIXED_ENTRY_OPTIONS);
  zip.end();
  try {
    await pipeline(zip.outputStream, measure, createWriteStream(zipFile), { signal: abort.signal });
  } catch (error) {
    throw zipError ?? error;
  }
  return { bytes, sha256: hash.digest('hex') };
}
