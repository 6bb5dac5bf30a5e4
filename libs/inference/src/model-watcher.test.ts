import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRegistry, type ModelRegistry } from '@mlops/registry';
import { openStore, type ObjectStore } from '@mlops/storage';
import pino from 'pino';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { ModelWatcher, retryDelay, type ModelWatcherOptions } from './model-watcher.ts';
import { createTinyModel } from './testing.ts';

/** A store whose downloads fail, as a store in trouble's do, while `state.failing()` says so. */
function flakyStore(store: ObjectStore) {
  const state = { failing: () => false, downloads: 0 };
  const flaky: ObjectStore = {
    ...store,
    uri: store.uri,
    get: (key) => store.get(key),
    head: (key) => store.head(key),
    put: (key, body) => store.put(key, body),
    putIfAbsent: (key, body) => store.putIfAbsent(key, body),
    putIfMatch: (key, body, etag) => store.putIfMatch(key, body, etag),
    list: (prefix) => store.list(prefix),
    delete: (key) => store.delete(key),
    createReadStream: (key) => store.createReadStream(key),
    uploadFile: (key, path) => store.uploadFile(key, path),
    downloadFile: async (key, path) => {
      state.downloads++;
      if (state.failing()) throw new Error(`S3 downloadFile of s3://bucket/${key} failed: TimeoutError: no data for 30000 ms`);
      return store.downloadFile(key, path);
    },
  };
  return { store: flaky, state };
}

describe('ModelWatcher after a failed load', () => {
  let root: string;
  let registry: ModelRegistry;
  let state: ReturnType<typeof flakyStore>['state'];
  const logs: Record<string, unknown>[] = [];
  const watchers: ModelWatcher[] = [];
  let created = 0;
  const logger = pino({ level: 'error' }, { write: (line: string) => void logs.push(JSON.parse(line) as Record<string, unknown>) });
  const move = (alias: string, version: string) => registry.setAlias(alias, version, { actor: 'test', reason: 'test' });
  const watcher = (alias: string, retry: ModelWatcherOptions['retry']) => {
    const w = new ModelWatcher(registry, {
      alias,
      cacheDir: join(root, `cache-${++created}`),
      // Never polls during a test: every retry comes from the backoff.
      pollMs: 3_600_000,
      serving: { sessions: 1, threads: 1, maxBatchSize: 8, maxWaitMs: 0 },
      logger,
      retry,
    });
    watchers.push(w);
    return w;
  };

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'model-watcher-'));
    const flaky = flakyStore(openStore(join(root, 'store')));
    state = flaky.state;
    registry = createRegistry(flaky.store);
    await registry.registerVersion(await createTinyModel({ seed: 1 }), { actor: 'test', reason: 'fixture' });
    // v2's ONNX model is corrupt: it downloads, then fails to load.
    const broken = await createTinyModel({ seed: 2 });
    await writeFile(join(broken, 'onnx', 'model.onnx'), 'not an onnx model');
    await registry.registerVersion(broken, { actor: 'test', reason: 'fixture' });
  }, 60_000);
  afterEach(async () => {
    await Promise.all(watchers.splice(0).map((w) => w.stop()));
    state.failing = () => false;
    logs.length = 0;
  });

  it('retries a version whose downloads failed, with backoff, and serves it without the alias moving', async () => {
    await move('champion', 'v1');
    const failures = () => logs.filter((l) => l.msg === 'cannot load model version; keeping the current model and retrying later');
    // Three attempts fail (each downloads the version's files at once), the fourth gets through.
    state.failing = () => failures().length < 3;
    const champion = watcher('champion', { transient: { firstMs: 20, maxMs: 100 } });
    await champion.start();
    expect(champion.current()).toBeUndefined();
    await vi.waitFor(() => expect(champion.current()?.metadata.version).toBe('v1'), { timeout: 5_000, interval: 20 });
    expect(failures().map((l) => [l.version, l.failure, l.attempts])).toEqual([
      ['v1', 'transient', 1],
      ['v1', 'transient', 2],
      ['v1', 'transient', 3],
    ]);
    for (const l of failures()) {
      expect(typeof l.retryInMs).toBe('number');
      expect(Date.parse(l.retryAt as string)).toBeGreaterThan(0);
    }
    expect((await champion.current()!.predict(['a good film']))[0]!.label).toBeDefined();
  });

  it('holds back a version that downloads but does not load, on the long backoff, and tries it again after it', async () => {
    await move('challenger', 'v2');
    const challenger = watcher('challenger', { transient: { firstMs: 10, maxMs: 10 }, broken: { firstMs: 400, maxMs: 400 } });
    const before = state.downloads;
    await challenger.start();
    expect(challenger.current()).toBeUndefined();
    const attempts = () => logs.filter((l) => l.version === 'v2' && l.failure === 'broken').length;
    expect(attempts()).toBe(1);
    const oneAttempt = state.downloads - before;
    // Well within the broken backoff (200 to 400 ms), although the transient one is 10 ms: no attempt.
    await new Promise((r) => setTimeout(r, 150));
    await challenger.refresh();
    expect(attempts()).toBe(1);
    expect(state.downloads - before).toBe(oneAttempt);
    await vi.waitFor(() => expect(attempts()).toBeGreaterThanOrEqual(2), { timeout: 3_000, interval: 20 });
    expect(challenger.current()).toBeUndefined();
  });

  it('starts over when the alias moves: a version failing transiently is left at once for the new one', async () => {
    await move('canary', 'v1');
    state.failing = () => true;
    const canary = watcher('canary', { transient: { firstMs: 60_000, maxMs: 60_000 } });
    await canary.start();
    expect(canary.current()).toBeUndefined();
    state.failing = () => false;
    await canary.refresh();
    // Still within the backoff: v1 is not tried again on a check.
    expect(canary.current()).toBeUndefined();
    await move('canary', 'v2');
    await canary.refresh();
    await move('canary', 'v1');
    await canary.refresh();
    expect(canary.current()?.metadata.version).toBe('v1');
  });
});

describe('retryDelay', () => {
  it('doubles from the first wait up to the cap, with jitter in the upper half', () => {
    const backoff = { firstMs: 1_000, maxMs: 300_000 };
    expect([1, 2, 3, 4].map((n) => retryDelay(backoff, n, () => 1))).toEqual([1_000, 2_000, 4_000, 8_000]);
    expect(retryDelay(backoff, 20, () => 1)).toBe(300_000);
    expect(retryDelay(backoff, 1_000, () => 0)).toBe(150_000);
    expect(retryDelay(backoff, 3, () => 0.5)).toBe(3_000);
  });
});
