import { mkdtemp, readFile, rename, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore, sha256OfFile } from '@mlops/storage';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createRegistry, type ModelRegistry } from './registry.ts';
import { MODEL_DIR_FILES, writeModelDir } from './registry-contract.testing.ts';

// Counts the hashing of cached files, which is what a stamp saves.
vi.mock('@mlops/storage', async (importOriginal) => {
  const storage = await importOriginal<typeof import('@mlops/storage')>();
  return { ...storage, sha256OfFile: vi.fn(storage.sha256OfFile) };
});
const hashed = vi.mocked(sha256OfFile);

let tmp: string;
let registry: ModelRegistry;
let modelDir: string;
let cache: string;
let local: string;
beforeEach(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'registry-cache-'));
  registry = createRegistry(openStore(join(tmp, 'store')));
  modelDir = await writeModelDir(tmp, 'm1');
  await registry.registerVersion(modelDir, { actor: 'test', reason: 'trained' });
  cache = join(tmp, 'cache');
  local = join(cache, 'sentiment', 'v1');
});
afterEach(async () => {
  vi.useRealTimers();
  await rm(tmp, { recursive: true, force: true });
});

/** Runs a download `seconds` from now (file times stay real): how many files it hashed. */
async function downloadAt(seconds: number): Promise<number> {
  vi.useFakeTimers({ toFake: ['Date'] });
  vi.setSystemTime(Date.now() + seconds * 1000);
  hashed.mockClear();
  await registry.downloadVersion('v1', cache);
  vi.useRealTimers();
  return hashed.mock.calls.length;
}

const intact = async () => {
  for (const path of MODEL_DIR_FILES) expect(await readFile(join(local, path))).toEqual(await readFile(join(modelDir, path)));
};

describe('a cached version is hashed once', () => {
  it('trusts a file stamped after it settled, without reading it again', async () => {
    // The file store's etag is the sha256 of the bytes it wrote: the download hashes nothing.
    expect(await downloadAt(0)).toBe(0);
    // Just written: its times cannot yet tell a change in the same tick, so it is hashed, not stamped.
    expect(await downloadAt(0)).toBe(MODEL_DIR_FILES.length);
    // Later: hashed once more, and stamped...
    expect(await downloadAt(10)).toBe(MODEL_DIR_FILES.length);
    // ...so the next calls read none of them.
    expect(await downloadAt(20)).toBe(0);
    expect(await downloadAt(30)).toBe(0);
    await intact();
  });

  // Whole seconds, so that a file's mtime can be put back exactly (utimes takes no nanoseconds).
  const PAST = 1_700_000_000;

  it('hashes again, and fetches again, a file changed in place with its size and mtime put back', async () => {
    await downloadAt(0);
    const path = join(local, 'onnx/model.onnx');
    await utimes(path, PAST, PAST);
    await downloadAt(10);
    const before = await stat(path);
    expect(before.mtimeMs).toBe(PAST * 1000);
    await writeFile(path, Buffer.alloc(before.size, 1));
    await utimes(path, PAST, PAST); // size and mtime as stamped: only the ctime moved

    expect(await downloadAt(20)).toBe(1); // only the changed file (then fetched again); the others are trusted
    await intact();
  });

  it('hashes again a file renamed into place with the same size and times', async () => {
    await downloadAt(0);
    const path = join(local, 'lineage.json');
    await utimes(path, PAST, PAST);
    await downloadAt(10);
    const other = join(tmp, 'other');
    await writeFile(other, 'x'.repeat((await stat(path)).size));
    await utimes(other, PAST, PAST);
    await rename(other, path);

    expect(await downloadAt(20)).toBe(1);
    await intact();
  });

  it('ignores stamps it cannot read', async () => {
    await downloadAt(0);
    await downloadAt(10);
    await writeFile(join(local, '.verified.json'), '{"config.json": {"sha256": 1}');
    expect(await downloadAt(20)).toBe(MODEL_DIR_FILES.length);
    expect(await downloadAt(30)).toBe(0);
  });
});
