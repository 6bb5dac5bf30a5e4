import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore, type ObjectStore } from '@mlops/storage';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AliasConflictError, MissingFilesError, UnknownAliasError, UnknownVersionError } from './errors.ts';
import { createRegistry, type ModelRegistry } from './registry.ts';
import { describeRegistryOnStore, MODEL_DIR_FILES, writeModelDir } from './registry-contract.testing.ts';
import { hasTorchWeights } from './schemas.ts';

let tmp: string;
let storeDir: string;
let store: ObjectStore;
let registry: ModelRegistry;
const who = { actor: 'test', reason: 'trained' };

beforeEach(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'registry-'));
  storeDir = join(tmp, '.mlops');
  store = openStore(storeDir);
  registry = createRegistry(store);
});
afterEach(() => rm(tmp, { recursive: true, force: true }));

const modelDir = (name: string, omit: string[] = []) => writeModelDir(tmp, name, omit);

describe('registry versions', () => {
  it('registers, lists, gets and downloads a version', async () => {
    const dir = await modelDir('m1');
    const v1 = await registry.registerVersion(dir, who);

    expect(v1).toMatchObject({ version: 'v1', model: 'sentiment', metrics: { 'imdb-test': { accuracy: 0.9, n: 200 }, loss: 0.3 } });
    expect(v1.files.map((f) => f.path)).toEqual([...MODEL_DIR_FILES]);
    expect(v1.files.find((f) => f.path === 'onnx/model.onnx')?.size).toBe(4096);
    expect(await registry.listVersions()).toEqual([v1]);
    expect(await registry.getVersion('v1')).toEqual(v1);
    expect(await registry.resolve({ version: 'v1' })).toEqual(v1);
    expect(await store.head('models/sentiment/versions/v1/onnx/model.onnx')).toBeDefined();

    const cache = join(tmp, 'cache');
    const local = await registry.downloadVersion('v1', cache);
    expect(local).toBe(join(cache, 'sentiment', 'v1'));
    for (const path of MODEL_DIR_FILES) expect(await readFile(join(local, path))).toEqual(await readFile(join(dir, path)));
    expect(JSON.parse(await readFile(join(local, 'version.json'), 'utf8'))).toEqual(v1);

    // Intact files are kept; a damaged one is fetched again.
    const before = await stat(join(local, 'pytorch_model.bin'));
    await writeFile(join(local, 'onnx/model.onnx'), 'damaged');
    await registry.downloadVersion('v1', cache);
    expect((await stat(join(local, 'pytorch_model.bin'))).ino).toBe(before.ino);
    expect(await readFile(join(local, 'onnx/model.onnx'))).toEqual(await readFile(join(dir, 'onnx/model.onnx')));
  });

  it('registers a version without torch weights (an ONNX import), which then cannot be fine-tuned', async () => {
    const dir = await modelDir('onnx-only', ['pytorch_model.bin', 'tokenizer_config.json']);
    const v1 = await registry.registerVersion(dir, who);
    expect(v1.files.map((f) => f.path)).toEqual(['config.json', 'tokenizer.json', 'onnx/model.onnx', 'metrics.json', 'lineage.json']);
    expect(hasTorchWeights(v1)).toBe(false);
    expect(hasTorchWeights(await registry.registerVersion(await modelDir('trained'), who))).toBe(true);
  });

  it('rejects a folder with missing files and writes nothing', async () => {
    const dir = await modelDir('broken', ['onnx/model.onnx', 'lineage.json']);
    const err = await registry.registerVersion(dir, who).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MissingFilesError);
    expect((err as Error).message).toBe(`Cannot register ${dir}: missing onnx/model.onnx, lineage.json`);
    expect(await store.list('')).toEqual([]);
  });

  it('numbers versions in order, records the parent and rejects an unknown parent', async () => {
    await registry.registerVersion(await modelDir('a'), who);
    const v2 = await registry.registerVersion(await modelDir('b'), { ...who, parent: 'v1' });
    expect(v2).toMatchObject({ version: 'v2', parent: 'v1' });
    await expect(registry.registerVersion(await modelDir('c'), { ...who, parent: 'v7' })).rejects.toThrow(UnknownVersionError);
    expect((await registry.listVersions()).map((v) => v.version)).toEqual(['v1', 'v2']);
  });

  it('reports unknown and incomplete versions with the known ones', async () => {
    await registry.registerVersion(await modelDir('a'), who);
    await store.put('models/sentiment/versions/v2/config.json', '{}'); // an upload that never finished

    for (const version of ['v2', 'v9', 'latest', '../v1']) {
      const err = await registry.getVersion(version).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(UnknownVersionError);
      expect(err).toMatchObject({
        code: 'UNKNOWN_VERSION',
        message: `Unknown version "${version}" of model "sentiment"; known versions: v1`,
      });
    }
    await expect(createRegistry(store, 'other').getVersion('v1')).rejects.toThrow(/known versions: none/);
    await expect(registry.resolve({ alias: 'nope' })).rejects.toThrow(UnknownAliasError);
    await expect(registry.resolve({ alias: 'nope' })).rejects.toThrow(/known aliases: champion/);
    await expect(registry.setAlias('challenger', 'v9', who)).rejects.toThrow(UnknownVersionError);
    await expect(registry.setAlias('Bad Name', 'v1', who)).rejects.toThrow(/Invalid alias name/);
    expect((await registry.listVersions()).map((v) => v.version)).toEqual(['v1']);
  });

  it('makes the first version champion, and not the next ones', async () => {
    await registry.registerVersion(await modelDir('a'), who);
    await registry.registerVersion(await modelDir('b'), who);
    expect(await registry.getAlias('champion')).toMatchObject({ version: 'v1', actor: 'test', reason: 'first version' });
    expect((await registry.resolve({ alias: 'champion' })).version).toBe('v1');

    const other = createRegistry(store, 'other');
    await other.registerVersion(await modelDir('c'), { ...who, becomeChampionIfNone: false });
    expect(await other.getAlias('champion')).toBeUndefined();
  });
});

describe('registry aliases', () => {
  async function registerMany(n: number): Promise<string[]> {
    const out: string[] = [];
    for (let i = 0; i < n; i++) out.push((await registry.registerVersion(await modelDir(`m${i}`), who)).version);
    return out;
  }

  it('fails a stale compare-and-swap with a clear error', async () => {
    await registerMany(3);
    await registry.setAlias('champion', 'v2', { ...who, expectedVersion: 'v1' });
    const err = await registry.setAlias('champion', 'v3', { ...who, expectedVersion: 'v1' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AliasConflictError);
    expect((err as Error).message).toMatch(/Alias "champion" of model "sentiment" is v2, not v1 as expected/);
    await expect(registry.setAlias('challenger', 'v3', { ...who, expectedVersion: 'v1' })).rejects.toThrow(/is unset, not v1/);
    expect((await registry.getAlias('champion'))?.version).toBe('v2');
  });
});

describe('registry audit', () => {
  it('records who did what, when and why, in order', async () => {
    await registry.registerVersion(await modelDir('a'), { actor: 'trainer', reason: 'nightly' });
    await registry.registerVersion(await modelDir('b'), { actor: 'trainer', reason: 'drift retrain' });
    await registry.setAlias('challenger', 'v2', { actor: 'promote', reason: 'better accuracy' });
    await registry.setAlias('champion', 'v2', { actor: 'alice', reason: 'canary passed', expectedVersion: 'v1' });
    await registry.setAlias('champion', 'v2', { actor: 'alice', reason: 'again' }); // no change, no event

    const events = await registry.audit();
    expect(events.map(({ time: _time, ...rest }) => rest)).toEqual([
      { actor: 'trainer', action: 'register', model: 'sentiment', version: 'v1', reason: 'nightly' },
      { actor: 'trainer', action: 'set-alias', model: 'sentiment', alias: 'champion', to: 'v1', reason: 'first version' },
      { actor: 'trainer', action: 'register', model: 'sentiment', version: 'v2', reason: 'drift retrain' },
      { actor: 'promote', action: 'set-alias', model: 'sentiment', alias: 'challenger', to: 'v2', reason: 'better accuracy' },
      { actor: 'alice', action: 'set-alias', model: 'sentiment', alias: 'champion', from: 'v1', to: 'v2', reason: 'canary passed' },
    ]);
    expect(events.map((e) => e.time)).toEqual(events.map((e) => e.time).sort());
    const keys = (await store.list('models/sentiment/audit/')).map((o) => o.key);
    expect(keys).toHaveLength(5);
    for (const key of keys) expect(key).toMatch(/^models\/sentiment\/audit\/\d{4}-\d\d-\d\dT\d{6}\.\d{3}Z-[0-9a-z-]+\.json$/);
  });
});

describe('canary and decisions', () => {
  it('uploads reference.json when the folder has one', async () => {
    const dir = await modelDir('r');
    await writeFile(join(dir, 'reference.json'), '{"n":0}');
    const v1 = await registry.registerVersion(dir, who);
    expect(v1.files.map((f) => f.path)).toEqual([...MODEL_DIR_FILES, 'reference.json']);
    const local = await registry.downloadVersion('v1', join(tmp, 'cache'));
    expect(await readFile(join(local, 'reference.json'), 'utf8')).toBe('{"n":0}');
  });

  it('sets a challenger with a canary weight, changes the weight, and clears it only from the expected version', async () => {
    await registry.registerVersion(await modelDir('a'), who);
    await registry.registerVersion(await modelDir('b'), who);
    await registry.setAlias('challenger', 'v2', { ...who, canaryWeight: 0.1 });
    expect((await registry.getAlias('challenger'))?.canaryWeight).toBe(0.1);
    await registry.setAlias('challenger', 'v2', { ...who, canaryWeight: 0.5 });
    expect((await registry.getAlias('challenger'))?.canaryWeight).toBe(0.5);

    await expect(registry.clearAlias('challenger', { ...who, expectedVersion: 'v1' })).rejects.toBeInstanceOf(AliasConflictError);
    await registry.clearAlias('challenger', { actor: 'promote', reason: 'canary done', expectedVersion: 'v2' });
    expect(await registry.getAlias('challenger')).toBeUndefined();
    await registry.clearAlias('challenger', who); // already gone: nothing to do

    expect(await registry.previousChampion()).toBeUndefined();
    await registry.setAlias('champion', 'v2', who);
    expect(await registry.previousChampion()).toBe('v1');

    await registry.recordEvent({ actor: 'promote', action: 'reject', version: 'v2', reason: 'not better', details: { margin: 0.01 } });
    const events = (await registry.audit()).slice(-3).map(({ time: _t, ...rest }) => rest);
    expect(events).toEqual([
      { actor: 'promote', action: 'clear-alias', model: 'sentiment', alias: 'challenger', from: 'v2', reason: 'canary done' },
      { actor: 'test', action: 'set-alias', model: 'sentiment', alias: 'champion', from: 'v1', to: 'v2', reason: 'trained' },
      { actor: 'promote', action: 'reject', model: 'sentiment', version: 'v2', reason: 'not better', details: { margin: 0.01 } },
    ]);
  });
});

// The races (concurrent registrations, CAS rounds, no lost update), as on S3 and GCS.
describeRegistryOnStore('the file store', async () => {
  const root = await mkdtemp(join(tmpdir(), 'registry-file-races-'));
  return { store: (prefix) => openStore(join(root, prefix)), stop: () => rm(root, { recursive: true, force: true }) };
});

/** The store with one write failing once, as a crash between two writes would leave it. */
function failingOnce(inner: ObjectStore, method: 'putIfAbsent' | 'delete', keyPattern: RegExp): ObjectStore & { failed: number } {
  let armed = true;
  const wrapper = Object.create(inner) as ObjectStore & { failed: number };
  wrapper.failed = 0;
  wrapper[method] = (async (key: string, ...rest: unknown[]) => {
    if (armed && keyPattern.test(key)) {
      armed = false;
      wrapper.failed++;
      throw new Error(`crash before ${method} ${key}`);
    }
    return (inner[method] as (...args: unknown[]) => Promise<unknown>).call(inner, key, ...rest);
  }) as never;
  return wrapper;
}

describe('writes that a crash interrupts', () => {
  const trail = async () =>
    (await registry.audit()).map((e) =>
      [e.action, e.alias ?? e.version, (e.from ?? e.to) !== undefined && `${e.from ?? ''}>${e.to ?? ''}`].filter(Boolean).join(' '),
    );

  it('an alias move whose audit write failed is completed by its retry, with its decision, once', async () => {
    await registry.registerVersion(await modelDir('a'), who);
    await registry.registerVersion(await modelDir('b'), who);
    const crashing = createRegistry(failingOnce(store, 'putIfAbsent', /\/audit\//), 'sentiment');
    const move = () =>
      crashing.setAlias('champion', 'v2', {
        actor: 'promote',
        reason: 'canary passed',
        expectedVersion: 'v1',
        events: [{ actor: 'promote', action: 'promote', version: 'v2', reason: 'canary passed' }],
      });
    await expect(move()).rejects.toThrow(/crash before putIfAbsent/);
    expect((await registry.getAlias('champion'))?.version).toBe('v2'); // the alias moved; its events did not reach the trail
    expect((await store.list('models/sentiment/audit/')).length).toBe(3);
    // The retry finds the alias moved (its expected version is gone) and completes the events.
    await expect(move()).resolves.toMatchObject({ version: 'v2' });
    await move();
    expect(await trail()).toEqual(['register v1', 'set-alias champion >v1', 'register v2', 'set-alias champion v1>v2', 'promote v2']);
  });

  it('reading the trail completes a move nobody retried', async () => {
    await registry.registerVersion(await modelDir('a'), who);
    const crashing = createRegistry(failingOnce(store, 'putIfAbsent', /\/audit\//), 'sentiment');
    await expect(crashing.setAlias('challenger', 'v1', { ...who, canaryWeight: 0.5 })).rejects.toThrow(/crash/);
    expect(await trail()).toEqual(['register v1', 'set-alias champion >v1', 'set-alias challenger >v1']);
    expect(await trail()).toHaveLength(3);
  });

  it('an alias clear that failed is finished by its retry with one event', async () => {
    await registry.registerVersion(await modelDir('a'), who);
    await registry.setAlias('challenger', 'v1', { ...who, canaryWeight: 0.5 });
    for (const [method, key] of [
      ['putIfAbsent', /\/audit\//],
      ['delete', /aliases\/challenger/],
    ] as const) {
      const crashing = createRegistry(failingOnce(store, method, key), 'sentiment');
      const clear = () => crashing.clearAlias('challenger', { ...who, expectedVersion: 'v1' });
      await expect(clear()).rejects.toThrow(/crash before/);
      expect((await registry.getAlias('challenger'))?.version).toBe('v1');
      await clear();
      await registry.setAlias('challenger', 'v1', { ...who, canaryWeight: 0.5 });
    }
    const clear = () => registry.clearAlias('challenger', { ...who, expectedVersion: 'v1' });
    await clear();
    await clear();
    expect(await registry.getAlias('challenger')).toBeUndefined();
    expect((await trail()).filter((e) => e.startsWith('clear-alias'))).toEqual(Array(3).fill('clear-alias challenger v1>'));
  });

  it('a registration retried after a failure returns the version the first attempt claimed, with one register event', async () => {
    const dir = await modelDir('a');
    const crashing = createRegistry(failingOnce(store, 'putIfAbsent', /version\.json$/), 'sentiment');
    await expect(crashing.registerVersion(dir, who)).rejects.toThrow(/crash before putIfAbsent/);
    expect((await crashing.registerVersion(dir, who)).version).toBe('v1');
    expect((await registry.registerVersion(dir, who)).version).toBe('v1');
    expect((await registry.listVersions()).map((v) => v.version)).toEqual(['v1']);
    expect(await store.list('models/sentiment/versions/v2/')).toEqual([]);
    expect(await trail()).toEqual(['register v1', 'set-alias champion >v1']);

    const lostEvent = createRegistry(failingOnce(store, 'putIfAbsent', /\/audit\/.*register-v2/), 'sentiment');
    const other = await modelDir('b');
    await expect(lostEvent.registerVersion(other, who)).rejects.toThrow(/crash/);
    expect((await lostEvent.registerVersion(other, who)).version).toBe('v2');
    expect(await trail()).toEqual(['register v1', 'set-alias champion >v1', 'register v2']);
  });

  it('removes a claim left without its version.json past the deadline, and keeps a young one', async () => {
    const old = new Date(Date.now() - 7 * 3600_000).toISOString();
    await store.put('models/sentiment/versions/v1/.claim', JSON.stringify({ actor: 'crashed', time: old, content: 'x' }));
    await store.put('models/sentiment/versions/v1/config.json', '{}');
    await store.put('models/sentiment/versions/v2/.claim', JSON.stringify({ actor: 'uploading', time: new Date().toISOString() }));
    const v = await registry.registerVersion(await modelDir('a'), who);
    expect(v.version).toBe('v3');
    expect(await store.list('models/sentiment/versions/v1/')).toEqual([]);
    expect((await store.list('models/sentiment/versions/v2/')).map((o) => o.key)).toEqual(['models/sentiment/versions/v2/.claim']);
  });
});
