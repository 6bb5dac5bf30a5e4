// Processes killed with SIGKILL in the middle of a registry write: a registration at each of its
// writes, and a promotion between its alias write and its audit events. A retry must finish the
// work with nothing lost or doubled.
import { mkdtemp, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRegistry, type ModelRegistry } from '@mlops/registry';
import { openStore, type ObjectStore } from '@mlops/storage';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPredictService } from '@mlops/predict';
import { modelFolders } from './loop-fixture.ts';
import { recordFault } from './fault-table.ts';
import { count, mapLimit, registryState, runChild, startFaultyS3, useStoreEnv, writeFakeModelDir, type FaultyS3 } from './helpers.ts';

const CHILD = fileURLToPath(new URL('./fixtures/crash-child.ts', import.meta.url));
const who = { actor: 'crash-test', reason: 'fixture' };

let root: string;
let modelDir: string;
let s3: FaultyS3;
let models: string[];
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'faults-crash-'));
  modelDir = await writeFakeModelDir(join(root, 'model'));
  s3 = await startFaultyS3();
  useStoreEnv(s3.env); // the SDK reads credentials from process.env
  models = await modelFolders();
});
afterAll(async () => {
  await s3?.stop();
});

/** Lock and temp files a killed writer may have left in a file store. */
async function leftovers(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true }).catch(() => [] as string[]);
  return entries.filter((path) => /\.~[^/]*\.(lock|break)$/.test(path));
}

/** What the kill left, read raw (the registry's own reads would complete it): version.json files, audit events, the champion alias. */
async function snapshot(store: ObjectStore) {
  const versions = (await store.list('models/sentiment/versions/')).filter((o) => o.key.endsWith('/version.json')).length;
  const events = (await store.list('models/sentiment/audit/')).length;
  const alias = (await store.head('models/sentiment/aliases/champion.json')) ? '+a' : '';
  return `${versions}v/${events}e${alias}`;
}

/** Registers `modelDir` in a child killed at write `at` (0: not killed). */
const register = (storeUri: string, at: number, when: 'before' | 'after', env: Record<string, string> = {}) =>
  runChild(CHILD, {
    ...env,
    CRASH_OP: 'register',
    CRASH_STORE: storeUri,
    CRASH_MODEL_DIR: modelDir,
    CRASH_AT: String(at),
    CRASH_WHEN: when,
  });

describe.each([
  { name: 'file store', s3: false },
  { name: 'S3 through the proxy', s3: true },
])('a registration killed with SIGKILL at each of its writes ($name)', ({ name, s3: onS3 }) => {
  const storeOf = (tag: string) => (onS3 ? { uri: s3.uri(`crash/${tag}`), env: s3.env } : { uri: join(root, tag), env: {} });
  let writes: string[];

  beforeAll(async () => {
    const { uri, env } = storeOf('dry-run');
    const dry = await register(uri, 0, 'before', env);
    expect(dry.code, dry.stderr).toBe(0);
    writes = (JSON.parse(dry.stdout.trim()) as { version: string; writes: string[] }).writes;
  });

  // Before each write (the process dies with it unsent), and after each (it landed, the caller never knew).
  it.each(['before', 'after'] as const)('%s the write: a retry makes one v1, one register event, one champion move', async (when) => {
    expect(writes.length).toBeGreaterThanOrEqual(8); // claim, 6 files, version.json, event, alias, event
    const steps = writes.map((_, i) => i + 1);
    const seen = await mapLimit(steps, 2, async (k) => {
      const { uri, env } = storeOf(`${when}-${k}`);
      const child = await register(uri, k, when, env);
      expect(child.signal, `k=${k}: ${child.stderr}`).toBe('SIGKILL');
      const store = openStore(uri);
      const registry = createRegistry(store);
      const locks = onS3 ? 0 : (await leftovers(uri)).length;
      const left = `${await snapshot(store)}${locks > 0 ? `+${locks}lock` : ''}`;
      const start = performance.now();
      const retried = await registry.registerVersion(modelDir, who);
      const retryMs = Math.round(performance.now() - start);
      expect(retried.version, `k=${k}`).toBe('v1');
      expect((await registry.listVersions()).map((v) => v.version)).toEqual(['v1']);
      const trail = await registry.audit();
      expect(
        count(trail, (e) => e.action === 'register'),
        `k=${k}`,
      ).toBe(1);
      expect(
        count(trail, (e) => e.action === 'set-alias' && e.alias === 'champion'),
        `k=${k}`,
      ).toBe(1);
      expect(trail).toHaveLength(2);
      expect((await registry.getAlias('champion'))?.version).toBe('v1');
      // A second retry changes nothing either.
      expect((await registry.registerVersion(modelDir, who)).version).toBe('v1');
      expect(await registry.audit()).toHaveLength(2);
      if (!onS3) expect(await leftovers(uri)).toEqual([]);
      return { k, left, locks, retryMs, state: await registryState(registry) };
    });
    const states = [...new Set(seen.map((s) => s.state))];
    const slowest = seen.reduce((a, b) => (b.retryMs > a.retryMs ? b : a));
    expect(states).toHaveLength(1);
    recordFault({
      group: 1,
      fault: `registerVersion SIGKILLed ${when} write k, k = 1..${writes.length} (${name})`,
      observed: `${seen.length}/${seen.length} children died by SIGKILL; left behind (version.json/audit events/+a champion alias/+lock files) ${seen.map((s) => `k${s.k} ${s.left}`).join(', ')}; every retry returned v1 (slowest retry ${slowest.retryMs} ms, at k${slowest.k}${slowest.locks > 0 ? ', which waited for the lock file the killed writer left to go stale' : ''})`,
      failed: seen.length,
      after: `each k: ${states[0]}; a second retry a no-op${onS3 ? '' : '; no lock files left'}`,
    });
  });
});

describe.each([
  { name: 'file store', s3: false },
  { name: 'S3 through the proxy', s3: true },
])('a promotion killed with SIGKILL between its alias write and its audit events ($name)', ({ name, s3: onS3 }) => {
  it('the trail shows the move and the promote event once, after audit() twice and a retry', async () => {
    const uri = onS3 ? s3.uri('crash/promote') : join(root, 'promote');
    const registry = createRegistry(openStore(uri));
    // Real (tiny) models this time: predict serves v1 from the same store through the crash.
    for (const dir of models.slice(0, 2)) await registry.registerVersion(dir, who);
    const predict = createPredictService({
      ...process.env,
      MLOPS_STORE: uri,
      MLOPS_CACHE_DIR: join(root, `cache-${onS3 ? 's3' : 'file'}`),
      PREDICT_POLL_SECONDS: '1',
      PREDICT_LOG_SAMPLE_RATE: '0',
      MLOPS_API_KEY: 'fault-test-key',
      PREDICT_SESSIONS: '1',
      LOG_LEVEL: 'silent',
    });
    await predict.start();
    const served: string[] = [];
    let failures = 0;
    const predictOnce = async () => {
      const res = await predict.app.request('/v1/predict', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ text: 'a good film' }),
      });
      if (res.status === 200) served.push(((await res.json()) as { model_version: string }).model_version);
      else failures++;
    };
    let crashing = true;
    const load = (async () => {
      while (crashing) {
        await predictOnce();
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    })();
    const before = (await openStore(uri).list('models/sentiment/audit/')).length;
    const child = await runChild(CHILD, {
      ...(onS3 ? s3.env : {}),
      CRASH_OP: 'promote',
      CRASH_STORE: uri,
      CRASH_ALIAS: 'champion',
      CRASH_VERSION: 'v2',
      CRASH_EXPECTED: 'v1',
      CRASH_AT: '1',
      CRASH_WHEN: 'after',
      CRASH_KEYS: '/aliases/champion\\.json$',
    });
    expect(child.signal, child.stderr).toBe('SIGKILL');
    expect((await registry.getAlias('champion'))?.version).toBe('v2');
    // predict follows the moved alias (its audit events are not written yet) without failing a request.
    for (let i = 0; i < 100 && served.at(-1) !== 'v2'; i++) await new Promise((resolve) => setTimeout(resolve, 100));
    crashing = false;
    await load;
    await predict.stop();
    expect(failures).toBe(0);
    expect(served.at(-1)).toBe('v2');
    const raw = (await openStore(uri).list('models/sentiment/audit/')).length; // before anyone completes the trail
    const moves = (events: Awaited<ReturnType<ModelRegistry['audit']>>) => ({
      moves: count(events, (e) => e.action === 'set-alias' && e.alias === 'champion' && e.to === 'v2'),
      promotes: count(events, (e) => e.action === 'promote' && e.version === 'v2'),
    });
    const first = moves(await registry.audit());
    const second = moves(await registry.audit());
    const retry = await registry.setAlias('champion', 'v2', {
      ...who,
      expectedVersion: 'v1',
      events: [{ actor: 'crash-test', action: 'promote', version: 'v2', reason: 'canary passed' }],
    });
    expect(retry.version).toBe('v2');
    const afterRetry = moves(await createRegistry(openStore(uri)).audit());
    for (const seen of [first, second, afterRetry]) expect(seen).toEqual({ moves: 1, promotes: 1 });
    if (!onS3) expect(await leftovers(uri)).toEqual([]);
    recordFault({
      group: 2,
      fault: `setAlias(champion v1→v2, promote event) SIGKILLed right after the alias write (${name})`,
      observed: `alias moved to v2, ${raw - before} of its 2 audit events written at the kill; audit() completed them: set-alias ${first.moves}, promote ${first.promotes}; again ${second.moves}/${second.promotes}; after a retried setAlias ${afterRetry.moves}/${afterRetry.promotes}; predict on the same store answered ${served.length}/${served.length + failures} with 200 (${served.filter((v) => v === 'v1').length} from v1, then v2 after its poll)`,
      failed: 1,
      after: await registryState(registry),
    });
  });
});
