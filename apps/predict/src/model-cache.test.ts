import { existsSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ModelWatcher } from '@mlops/inference';
import { createTinyModel } from '@mlops/inference/testing';
import { createRegistry, type ModelRegistry } from '@mlops/registry';
import { openStore } from '@mlops/storage';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/** predict's two watchers share one model cache: a version's folder lives as long as one of them holds it. */
describe('the model cache behind the champion and challenger watchers', () => {
  let registry: ModelRegistry;
  let cacheDir: string;
  let watchers: { champion: ModelWatcher; challenger: ModelWatcher };
  const cached = (version: string) => existsSync(registry.cachedVersionDir(version, cacheDir));
  const move = (alias: string, version: string) => registry.setAlias(alias, version, { actor: 'test', reason: 'test' });

  beforeAll(async () => {
    const root = await mkdtemp(join(tmpdir(), 'predict-cache-'));
    registry = createRegistry(openStore(join(root, 'store')));
    cacheDir = join(root, 'cache');
    for (const seed of [1, 2, 3]) await registry.registerVersion(await createTinyModel({ seed }), { actor: 'test', reason: 'fixture' });
    // v4's ONNX model is corrupt: it downloads, then fails to load.
    const broken = await createTinyModel({ seed: 4 });
    await writeFile(join(broken, 'onnx', 'model.onnx'), 'not an onnx model');
    await registry.registerVersion(broken, { actor: 'test', reason: 'fixture' });
    const watcher = (alias: string, unloadWhenUnset: boolean) =>
      new ModelWatcher(registry, {
        alias,
        cacheDir,
        pollMs: 3_600_000,
        serving: { sessions: 0, threads: 1, maxBatchSize: 8, maxWaitMs: 0 },
        logger: pino({ level: 'silent' }),
        unloadWhenUnset,
      });
    watchers = { champion: watcher('champion', false), challenger: watcher('challenger', true) };
  }, 60_000);
  afterAll(() => Promise.all(Object.values(watchers).map((w) => w.stop())));

  it('removes a retired version unless the other watcher serves it, and a version that failed to load', async () => {
    const { champion, challenger } = watchers;
    await move('champion', 'v1');
    await champion.start();
    expect(cached('v1')).toBe(true);

    // A canary of v2, then v2 promoted: both watchers serve it for a while.
    await move('challenger', 'v2');
    await challenger.start();
    await move('champion', 'v2');
    await champion.refresh();
    expect(champion.current()?.metadata.version).toBe('v2');
    expect([cached('v1'), cached('v2')]).toEqual([false, true]);
    await registry.clearAlias('challenger', { actor: 'test', reason: 'canary completed' });
    await challenger.refresh();
    expect(challenger.current()).toBeUndefined();
    expect(cached('v2')).toBe(true);
    expect((await champion.current()!.predict(['still served']))[0]!.label).toBeDefined();

    await move('challenger', 'v4');
    await challenger.refresh();
    expect(challenger.current()).toBeUndefined();
    expect(cached('v4')).toBe(false);

    await move('champion', 'v3');
    await champion.refresh();
    expect([cached('v2'), cached('v3')]).toEqual([false, true]);
  }, 60_000);
});
