import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTinyModel } from '@mlops/inference/testing';
import { createRegistry, NoChampionError, type ModelRegistry } from '@mlops/registry';
import { openStore } from '@mlops/storage';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedScenarioStore } from './scenario.ts';

describe('seedScenarioStore', () => {
  let root: string;
  let base: ModelRegistry;
  let settings: { MLOPS_STORE: string; MLOPS_CACHE_DIR: string; MLOPS_ACTOR: string };

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'scenario-'));
    settings = { MLOPS_STORE: join(root, 'store'), MLOPS_CACHE_DIR: join(root, 'cache'), MLOPS_ACTOR: 'test' };
    base = createRegistry(openStore(settings.MLOPS_STORE), 'sentiment');
    await base.registerVersion(await createTinyModel({ seed: 1 }), { actor: 't', reason: 'v1' });
    const v2 = await base.registerVersion(await createTinyModel({ seed: 2 }), { actor: 't', reason: 'v2' });
    await base.setAlias('champion', v2.version, { actor: 't', reason: 'an earlier run promoted it' });
  });
  afterAll(() => rm(root, { recursive: true, force: true }));

  it('gives every run a store of its own holding only the starting champion, and leaves the starting store alone', async () => {
    const auditBefore = await base.audit();
    const first = await seedScenarioStore(base, settings, new Date('2026-12-01T10:00:00Z'));
    const second = await seedScenarioStore(base, settings, new Date('2026-12-01T11:00:00Z'));
    expect(first.store).not.toBe(second.store);
    expect(first.store.startsWith(join(settings.MLOPS_STORE, 'scenarios'))).toBe(true);

    const champion = await base.getVersion('v2');
    for (const run of [first, second]) {
      const versions = await run.registry.listVersions();
      expect(versions.map((v) => v.version)).toEqual(['v1']);
      expect(versions[0]!.files).toEqual(champion.files); // the same bytes as the starting champion
      expect((await run.registry.getAlias('champion'))?.version).toBe('v1');
      expect(await run.registry.getAlias('challenger')).toBeUndefined();
    }
    expect(await base.audit()).toEqual(auditBefore);
    expect((await base.getAlias('champion'))?.version).toBe('v2');
  });

  it('seeds once: the same run again registers nothing new', async () => {
    const at = new Date('2026-12-01T12:00:00Z');
    await seedScenarioStore(base, settings, at);
    const again = await seedScenarioStore(base, settings, at);
    expect((await again.registry.listVersions()).map((v) => v.version)).toEqual(['v1']);
  });

  it('refuses a starting store without a champion', async () => {
    const empty = createRegistry(openStore(join(root, 'empty')), 'sentiment');
    await expect(seedScenarioStore(empty, settings, new Date())).rejects.toBeInstanceOf(NoChampionError);
  });
});
