// The registry's concurrency guarantees rest on the store's conditional writes: these run the races
// of registry.test.ts against any store served on 127.0.0.1 (see @mlops/storage/testing).
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { ObjectStore } from '@mlops/storage';
import { uniquePrefix } from '@mlops/storage/testing';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { AliasConflictError, UnknownFileError, UnknownVersionError } from './errors.ts';
import { createRegistry, type ModelRegistry } from './registry.ts';

/** The files writeModelDir writes, in the order a version lists them. */
export const MODEL_DIR_FILES = [
  'config.json',
  'tokenizer.json',
  'tokenizer_config.json',
  'onnx/model.onnx',
  'pytorch_model.bin',
  'metrics.json',
  'lineage.json',
];

/** A fake model folder with the files a trained version has (minus `omit`), under `root`. */
export async function writeModelDir(root: string, name: string, omit: string[] = []): Promise<string> {
  const dir = join(root, name);
  const contents: Record<string, string | Buffer> = {
    'config.json': JSON.stringify({ model_type: 'distilbert', id2label: { 0: 'negative', 1: 'positive' } }),
    'tokenizer.json': JSON.stringify({ model: { type: 'WordPiece' }, name }),
    'tokenizer_config.json': '{}',
    'onnx/model.onnx': randomBytes(4096),
    'pytorch_model.bin': randomBytes(8192),
    'metrics.json': JSON.stringify({
      'imdb-test': {
        accuracy: 0.9,
        n: 200,
        confusion: [
          [90, 10],
          [10, 90],
        ],
      },
      loss: 0.3,
    }),
    'lineage.json': JSON.stringify({ data: 'fingerprint', name }),
  };
  for (const [path, body] of Object.entries(contents)) {
    if (omit.includes(path)) continue;
    await mkdir(dirname(join(dir, path)), { recursive: true });
    await writeFile(join(dir, path), body);
  }
  return dir;
}

export interface LocalStoreServer {
  /** A new client on the server, its keys under `prefix`. */
  store(prefix: string): ObjectStore;
  stop(): Promise<void>;
}

export function describeRegistryOnStore(name: string, start: () => Promise<LocalStoreServer>): void {
  let server: LocalStoreServer;
  let tmp: string;
  let prefix: string;
  let registry: ModelRegistry;
  const who = { actor: 'test', reason: 'trained' };

  beforeAll(async () => {
    server = await start();
  });
  afterAll(() => server?.stop());

  beforeEach(async () => {
    tmp = await mkdtemp(join(tmpdir(), 'registry-store-'));
    // A fresh prefix per test: an empty registry without restarting the server.
    prefix = uniquePrefix('registry');
    registry = createRegistry(server.store(prefix));
  });
  afterEach(() => rm(tmp, { recursive: true, force: true }));

  /** Each writer gets its own client, store and registry, as separate processes would. */
  const otherClient = () => createRegistry(server.store(prefix));

  const modelDir = (name: string) => writeModelDir(tmp, name);

  async function registerMany(n: number): Promise<string[]> {
    const out: string[] = [];
    for (let i = 0; i < n; i++) out.push((await registry.registerVersion(await modelDir(`m${i}`), who)).version);
    return out;
  }

  describe(`registry on ${name}`, () => {
    it('registers and downloads a version', async () => {
      const dir = await modelDir('m1');
      const v1 = await registry.registerVersion(dir, who);
      expect(v1.files.map((f) => f.path)).toEqual([...MODEL_DIR_FILES]);
      expect(await registry.listVersions()).toEqual([v1]);
      const local = await registry.downloadVersion('v1', join(tmp, 'cache'));
      for (const path of MODEL_DIR_FILES) expect(await readFile(join(local, path))).toEqual(await readFile(join(dir, path)));
      expect((await registry.getAlias('champion'))?.version).toBe('v1');

      // Only the wanted files; a later call that wants everything fetches the rest.
      const partial = await registry.downloadVersion('v1', join(tmp, 'partial'), (path) => path !== 'pytorch_model.bin');
      await expect(readFile(join(partial, 'pytorch_model.bin'))).rejects.toThrow(/ENOENT/);
      expect(await readFile(join(partial, 'onnx/model.onnx'))).toEqual(await readFile(join(dir, 'onnx/model.onnx')));
      await registry.downloadVersion('v1', join(tmp, 'partial'));
      expect(await readFile(join(partial, 'pytorch_model.bin'))).toEqual(await readFile(join(dir, 'pytorch_model.bin')));
    });

    it('refuses a downloaded file whose bytes differ from the sha256 in version.json', async () => {
      await registry.registerVersion(await modelDir('m1'), who);
      await server.store(prefix).put('models/sentiment/versions/v1/onnx/model.onnx', 'tampered');
      await expect(registry.downloadVersion('v1', join(tmp, 'cache'))).rejects.toThrow(
        'onnx/model.onnx of sentiment v1 does not match the sha256 in its version.json',
      );
    });

    it('reads one file of a version from the store, checked against version.json', async () => {
      const dir = await modelDir('m1');
      await registry.registerVersion(dir, who);
      expect(await registry.readVersionFile('v1', 'onnx/model.onnx')).toEqual(await readFile(join(dir, 'onnx/model.onnx')));
      const config = z.object({ id2label: z.record(z.string(), z.string()) });
      expect(await registry.readVersionJson('v1', 'config.json', config)).toEqual({ id2label: { 0: 'negative', 1: 'positive' } });
      await expect(registry.readVersionJson('v1', 'config.json', z.object({ labels: z.array(z.string()) }))).rejects.toThrow(
        /^models\/sentiment\/versions\/v1\/config.json in .* is malformed/,
      );

      const missing = await registry.readVersionFile('v1', 'reference.json').catch((e: unknown) => e);
      expect(missing).toBeInstanceOf(UnknownFileError);
      expect(missing).toMatchObject({
        code: 'UNKNOWN_FILE',
        message: expect.stringMatching(/^Version v1 of model "sentiment" has no file "reference.json"; its files: config.json, /),
      });
      await expect(registry.readVersionFile('v2', 'config.json')).rejects.toBeInstanceOf(UnknownVersionError);

      // Same size, other bytes: only the hash tells.
      const original = await readFile(join(dir, 'tokenizer_config.json'), 'utf8');
      await server.store(prefix).put('models/sentiment/versions/v1/tokenizer_config.json', original.replace('{', '['));
      await expect(registry.readVersionFile('v1', 'tokenizer_config.json')).rejects.toThrow(
        'tokenizer_config.json of sentiment v1 does not match the sha256 in its version.json',
      );
    });

    it('gives concurrent registrations distinct versions and one champion', async () => {
      const dirs = await Promise.all([1, 2, 3, 4, 5].map((i) => modelDir(`m${i}`)));
      const versions = await Promise.all(dirs.map((dir) => otherClient().registerVersion(dir, who)));

      expect(versions.map((v) => v.version).sort()).toEqual(['v1', 'v2', 'v3', 'v4', 'v5']);
      const champions = (await registry.audit()).filter((e) => e.alias === 'champion');
      expect(champions).toHaveLength(1);
      expect((await registry.getAlias('champion'))?.version).toBe(champions[0]?.to);
    });

    it('lets exactly one of several CAS writers win each round', async () => {
      const versions = await registerMany(4);
      const winners: string[] = [];
      let current: string | null = null;
      for (let round = 0; round < 6; round++) {
        const targets = versions.filter((v) => v !== current);
        const results = await Promise.allSettled(
          targets.map((v, i) =>
            otherClient().setAlias('challenger', v, { actor: `writer-${i}`, reason: `round ${round}`, expectedVersion: current }),
          ),
        );
        const won = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value.version] : []));
        const lost = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
        expect(won).toHaveLength(1);
        expect(lost).toHaveLength(targets.length - 1);
        expect(lost.every((e) => e instanceof AliasConflictError)).toBe(true);
        winners.push(`${current ?? '-'}>${won[0]}`);
        current = won[0] ?? null;
      }

      expect((await registry.getAlias('challenger'))?.version).toBe(current);
      const moves = (await registry.audit()).filter((e) => e.alias === 'challenger').map((e) => `${e.from ?? '-'}>${e.to}`);
      expect(moves.sort()).toEqual(winners.sort());
    });

    it('loses no update when writers race without an expected version', async () => {
      const versions = await registerMany(6);
      const records = await Promise.all(
        versions.map((v, i) => otherClient().setAlias('canary', v, { actor: `writer-${i}`, reason: 'race' })),
      );
      expect(records.map((r) => r.version)).toEqual(versions);

      // Every write saw the one before it: the moves form one chain from unset to the final version.
      const moves = (await registry.audit()).filter((e) => e.alias === 'canary');
      expect(moves).toHaveLength(versions.length);
      const next = new Map(moves.map((e) => [e.from ?? '-', e.to]));
      expect(next.size).toBe(versions.length);
      let at = '-';
      for (let i = 0; i < versions.length; i++) at = next.get(at) ?? 'broken';
      expect(at).toBe((await registry.getAlias('canary'))?.version);
    });
  });
}
