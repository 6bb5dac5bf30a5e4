import { createHash } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readFile, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { text } from 'node:stream/consumers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import yauzl from 'yauzl';
import { zipFolder } from './zip.ts';

interface ReadEntry {
  name: string;
  content: string;
  /** Unix mode from the external attributes. */
  mode: number;
  dosDate: number;
  dosTime: number;
  extraFieldIds: number[];
}

/** Every entry of a zip, read back with yauzl (an independent reader). */
function readZip(path: string): Promise<ReadEntry[]> {
  return new Promise((resolve, reject) => {
    yauzl.open(path, { lazyEntries: true }, (openError, zip) => {
      if (openError || !zip) return reject(openError ?? new Error(`cannot open ${path}`));
      const entries: ReadEntry[] = [];
      zip.on('error', reject);
      zip.on('end', () => resolve(entries));
      zip.on('entry', (entry: yauzl.Entry) => {
        zip.openReadStream(entry, (streamError, stream) => {
          if (streamError || !stream) return reject(streamError ?? new Error(`cannot read ${entry.fileName}`));
          text(stream).then((content) => {
            entries.push({
              name: entry.fileName,
              content,
              mode: entry.externalFileAttributes >>> 16,
              dosDate: entry.lastModFileDate,
              dosTime: entry.lastModFileTime,
              extraFieldIds: entry.extraFields.map((f) => f.id),
            });
            zip.readEntry();
          }, reject);
        });
      });
      zip.readEntry();
    });
  });
}

let root: string;
const bundle = () => join(root, 'bundle');

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'mlops-zip-'));
  await mkdir(join(bundle(), 'node_modules', 'pkg', 'bin'), { recursive: true });
  await writeFile(join(bundle(), 'index.mjs'), 'export const handler = async () => ({});\n');
  await writeFile(join(bundle(), 'package.json'), '{"type":"module"}');
  await writeFile(join(bundle(), 'node_modules', 'pkg', 'index.js'), 'module.exports = 1;\n');
  await writeFile(join(bundle(), 'node_modules', 'pkg', 'bin', 'run'), '#!/bin/sh\necho run\n');
  await chmod(join(bundle(), 'node_modules', 'pkg', 'bin', 'run'), 0o755);
  await symlink(join(bundle(), 'index.mjs'), join(bundle(), 'link.mjs'));
});
afterAll(async () => rm(root, { recursive: true, force: true }));

describe('zipFolder', () => {
  it('lists every regular file under the folder by its relative path, with contents and modes', async () => {
    const zipFile = join(root, 'a.zip');
    await zipFolder(bundle(), zipFile);
    const entries = await readZip(zipFile);
    expect(entries.map((e) => e.name)).toEqual(['index.mjs', 'node_modules/pkg/bin/run', 'node_modules/pkg/index.js', 'package.json']);
    expect(entries.find((e) => e.name === 'index.mjs')?.content).toBe('export const handler = async () => ({});\n');
    expect(entries.find((e) => e.name === 'node_modules/pkg/bin/run')?.mode).toBe(0o100755);
    expect(entries.find((e) => e.name === 'package.json')?.mode).toBe(0o100644);
  });

  it("gives the same bytes for the same folder, whatever the files' times", async () => {
    const first = join(root, 'first.zip');
    const second = join(root, 'second.zip');
    const a = await zipFolder(bundle(), first);
    await utimes(join(bundle(), 'index.mjs'), new Date('2031-05-06T07:08:09Z'), new Date('2031-05-06T07:08:09Z'));
    const b = await zipFolder(bundle(), second);
    expect((await readFile(second)).equals(await readFile(first))).toBe(true);
    expect(b).toEqual(a);
    // 1980-01-01 00:00 in the DOS fields and no unix-time extra field, so no time zone shows either.
    for (const entry of await readZip(first)) {
      expect([entry.dosDate, entry.dosTime], entry.name).toEqual([(1 << 5) | 1, 0]);
      expect(entry.extraFieldIds, entry.name).toEqual([]);
    }
  });

  it('returns the size and sha256 of the file it wrote', async () => {
    const zipFile = join(root, 'hashed.zip');
    const result = await zipFolder(bundle(), zipFile);
    const written = await readFile(zipFile);
    expect(result).toEqual({ bytes: written.length, sha256: createHash('sha256').update(written).digest('hex') });
  });
});
