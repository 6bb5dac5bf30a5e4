import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Alert } from '@mlops/alerts';
import { textHash } from '@mlops/data';
import { RATING_LABELS } from '@mlops/data/testing';
import { TextClassifier } from '@mlops/inference';
import { copyAsAnotherVersion, createTinyModel } from '@mlops/inference/testing';
import { feedbackId, isHoldout, writeFeedback, type FeedbackRecord } from '@mlops/monitoring';
import { writeLabelledPredictions } from '@mlops/monitoring/testing';
import { AliasConflictError, createRegistry, type ModelRegistry } from '@mlops/registry';
import { openStore, type ObjectStore } from '@mlops/storage';
import pino from 'pino';
import { beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { createPromoteApp } from './app.ts';
import { considerCandidate, reviewCanary, rollbackChampion, type PromoteDeps } from './promote.ts';

let models: string[];
let thirdModel: string;
const texts = Array.from({ length: 1500 }, (_, i) => `review number ${i} ${'good bad fine awful great dull'.split(' ')[i % 6]}`);
const holdoutTexts = texts.filter((t) => isHoldout(textHash(t)));
/** What each tiny model says about every text: labels "by" a model make that model right. */
const said: Record<string, string[]> = {};

beforeAll(async () => {
  // Two opinionated models: v1 says positive to everything, v2 negative.
  models = [await createTinyModel({ seed: 1, leaning: 1 }), await createTinyModel({ seed: 2, leaning: 0 })];
  thirdModel = await copyAsAnotherVersion(models[0]!);
  for (const [i, dir] of models.entries()) {
    const classifier = await TextClassifier.load(dir, { threads: 1 });
    said[`v${i + 1}`] = (await classifier.predict(holdoutTexts)).map((p) => p.label);
    await classifier.release();
  }
}, 60_000);

let store: ObjectStore;
let registry: ModelRegistry;
let alerts: Alert[];
let deps: PromoteDeps;
beforeEach(async () => {
  const root = await mkdtemp(join(tmpdir(), 'promote-'));
  store = openStore(join(root, 'store'));
  registry = createRegistry(store);
  for (const dir of models) await registry.registerVersion(dir, { actor: 't', reason: 'fixture' });
  alerts = [];
  deps = {
    store,
    registry,
    cacheDir: join(root, 'cache'),
    windowMinutes: 60,
    baseEval: undefined,
    baseRows: 0,
    gate: { margin: 0.02, tolerance: 0.02, maxLatencyRatio: 3, minHoldout: 50 },
    canary: { weight: 0.5, minLabels: 50, maxMinutes: 60, tolerance: 0.02 },
    alerter: { notify: async (a) => (alerts.push(a), []) },
    logger: pino({ level: 'silent' }),
    actor: 'promote',
  };
}, 60_000);

/** Held-out feedback whose labels agree with `version`'s predictions. */
async function labelsBy(version: string, caller = 'api-key') {
  const time = new Date().toISOString();
  await writeFeedback(
    store,
    holdoutTexts.map((text, i): FeedbackRecord => ({
      feedback_id: feedbackId({ text_hash: textHash(text) }),
      time,
      label: said[version]![i]!,
      text_hash: textHash(text),
      text,
      source: 'api',
      caller,
    })),
  );
}

/** n labelled predictions of `version` since now, `correct` of them right (writeLabelledPredictions). */
const served = (version: string, n: number, correct: number, classes?: readonly [string, string], into: ObjectStore = store) =>
  writeLabelledPredictions(into, version, n, correct, classes);

describe('considerCandidate', () => {
  it('starts a canary for a candidate that beats the champion on held-out feedback, with the numbers in the audit trail', async () => {
    await labelsBy('v2');
    const result = await considerCandidate(deps, 'v2');
    expect(result.decision).toBe('canary');
    expect(result.gate!.primary).toBe('holdout');
    expect(result.gate!.checks[0]).toMatchObject({ candidate: 1, pass: true });
    expect(await registry.getAlias('challenger')).toMatchObject({ version: 'v2', canaryWeight: 0.5 });
    const event = (await registry.audit()).find((e) => e.action === 'canary-start');
    expect(event?.details).toMatchObject({ champion: 'v1', primary: 'holdout' });
    expect(alerts.map((a) => a.kind)).toEqual(['canary-started']);
  });

  it('rejects a candidate that is worse, and leaves the aliases alone', async () => {
    await labelsBy('v1');
    const result = await considerCandidate(deps, 'v2');
    expect(result.decision).toBe('reject');
    expect(result.reasons[0]).toMatch(/^FAIL: holdout accuracy/);
    expect(await registry.getAlias('challenger')).toBeUndefined();
    expect((await registry.audit()).at(-1)).toMatchObject({ action: 'reject', version: 'v2' });
    expect(alerts.map((a) => a.kind)).toEqual(['candidate-rejected']);
  });

  it('refuses the champion itself, unknown versions, and a second canary', async () => {
    await expect(considerCandidate(deps, 'v1')).rejects.toThrow(/v1 is already the champion/);
    await expect(considerCandidate(deps, 'v9')).rejects.toThrow(/v9/);
    await registry.registerVersion(thirdModel, { actor: 't', reason: 'fixture' });
    await registry.setAlias('challenger', 'v3', { actor: 't', reason: 'canary', canaryWeight: 0.1 });
    await expect(considerCandidate(deps, 'v2')).rejects.toThrow(/a canary of v3 is running/);
  });

  it('does not gate a candidate with other classes: it is rejected, naming them, for a person to promote', async () => {
    await labelsBy('v2');
    await registry.registerVersion(await createTinyModel({ labels: ['negative', 'neutral', 'positive'] }), {
      actor: 't',
      reason: 'fixture',
    });
    const result = await considerCandidate(deps, 'v3');
    expect(result).toMatchObject({ decision: 'reject', champion: 'v1' });
    expect(result.gate).toBeUndefined();
    expect(result.reasons[0]).toMatch(
      /v3 has other classes than v1 \(adds neutral\); promote it by hand: mlops registry set-alias champion v3/,
    );
    expect(await registry.getAlias('challenger')).toBeUndefined();
    expect((await registry.audit()).at(-1)).toMatchObject({ action: 'reject', version: 'v3' });
    expect(alerts.map((a) => a.kind)).toEqual(['candidate-rejected']);
  });
});

describe('labels that cannot be trusted', () => {
  it('rejects a candidate that fits flipped labels posted as feedback but is worse on the base set feedback cannot change', async () => {
    await labelsBy('v2', 'anonymous'); // v2's answers posted as the truth: v1's answers flipped
    const baseEval = join(await mkdtemp(join(tmpdir(), 'promote-base-')), 'base.jsonl');
    await writeFile(
      baseEval,
      holdoutTexts.map((text) => JSON.stringify({ text, label: said['v1']![holdoutTexts.indexOf(text)] })).join('\n'),
    );
    const result = await considerCandidate({ ...deps, baseEval, baseRows: 200 }, 'v2');
    expect(result.decision).toBe('reject');
    expect(result.gate!.checks.find((c) => c.name.startsWith('base accuracy'))).toMatchObject({ candidate: 0, champion: 1, pass: false });
    expect(await registry.getAlias('challenger')).toBeUndefined();
  });

  it('judges a candidate with the labels of trusted callers only', async () => {
    await labelsBy('v1', 'oidc:labeler@example.com');
    await new Promise((r) => setTimeout(r, 5));
    await labelsBy('v2', 'anonymous'); // later, so it would win each text
    expect((await considerCandidate({ ...deps, trustedCallers: ['oidc:labeler@example.com'] }, 'v2')).decision).toBe('reject');
    expect((await considerCandidate(deps, 'v2')).decision).toBe('canary');
  });
});

describe('reviewCanary', () => {
  beforeEach(() => registry.setAlias('challenger', 'v2', { actor: 't', reason: 'canary', canaryWeight: 0.5 }));

  it('waits for enough labels, then completes a challenger at least as accurate', async () => {
    await served('v1', 100, 70);
    await served('v2', 30, 27);
    expect((await reviewCanary(deps)).decision).toBe('wait');
    await served('v2', 70, 63);
    const review = await reviewCanary(deps);
    expect(review.decision).toBe('complete');
    expect(review.reasons[0]).toMatch(/v2 accuracy 0\.900 \(n=100\) vs v1 0\.700 \(n=100\)/);
    expect((await registry.getAlias('champion'))?.version).toBe('v2');
    expect(await registry.getAlias('challenger')).toBeUndefined();
    expect(alerts.map((a) => a.kind)).toEqual(['promoted']);
    expect((await reviewCanary(deps)).decision).toBe('none');
  });

  it('promotes once when two instances review the same canary at once', async () => {
    await served('v1', 100, 70);
    await served('v2', 100, 90);
    const other = { ...deps, registry: createRegistry(store) };
    const reviews = await Promise.allSettled([reviewCanary(deps), reviewCanary(other)]);
    expect(reviews.some((r) => r.status === 'fulfilled' && r.value.decision === 'complete')).toBe(true);
    expect((await registry.getAlias('champion'))?.version).toBe('v2');
    expect(await registry.getAlias('challenger')).toBeUndefined();
    const trail = await registry.audit();
    expect(trail.filter((e) => e.action === 'promote')).toHaveLength(1);
    expect(trail.filter((e) => e.action === 'set-alias' && e.alias === 'champion' && e.to === 'v2')).toHaveLength(1);
    expect(trail.filter((e) => e.action === 'clear-alias')).toHaveLength(1);
    expect(alerts.map((a) => a.kind)).toEqual(['promoted']);
  });

  it('ends the canary of a review that promoted and stopped before clearing the challenger', async () => {
    await registry.setAlias('champion', 'v2', { actor: 'promote', reason: 'canary passed', expectedVersion: 'v1' });
    const review = await reviewCanary(deps);
    expect(review).toMatchObject({ decision: 'complete', reasons: ['v2 is already champion; its canary is ended'] });
    expect(await registry.getAlias('challenger')).toBeUndefined();
  });

  it('rolls back a challenger that is worse on live traffic', async () => {
    await served('v1', 100, 90);
    await served('v2', 100, 70);
    expect((await reviewCanary(deps)).decision).toBe('rollback');
    expect((await registry.getAlias('champion'))?.version).toBe('v1');
    expect(await registry.getAlias('challenger')).toBeUndefined();
    expect(alerts.map((a) => a.kind)).toEqual(['rolled-back']);
  });

  it('rolls back a canary that gathered too few labels in time', async () => {
    await served('v1', 10, 9);
    const later = new Date(Date.now() + 61 * 60_000);
    const review = await reviewCanary(deps, later);
    expect(review).toMatchObject({ decision: 'rollback', reasons: [expect.stringMatching(/without 50 labelled predictions each/)] });
  });
});

describe('rollback', () => {
  it('restores the previous champion at once, or a named version, and says when there is none', async () => {
    await expect(rollbackChampion(deps, { reason: 'oops' })).rejects.toThrow(/no earlier champion to roll back to from v1/);
    await registry.setAlias('champion', 'v2', { actor: 't', reason: 'promote' });
    expect(await rollbackChampion(deps, { reason: 'bad outputs' })).toEqual({ from: 'v2', to: 'v1' });
    expect((await registry.getAlias('champion'))?.version).toBe('v1');
    expect(await rollbackChampion(deps, { to: 'v2', reason: 'fixed' })).toEqual({ from: 'v1', to: 'v2' });
    expect((await registry.audit()).filter((e) => e.action === 'rollback').map((e) => e.reason)).toEqual(['bad outputs', 'fixed']);
  });

  it('answers a retried rollback as the first time instead of rolling back further, and refuses a stale expectation', async () => {
    await registry.setAlias('champion', 'v2', { actor: 't', reason: 'promote' });
    expect(await rollbackChampion(deps, { reason: 'bad outputs' })).toEqual({ from: 'v2', to: 'v1' });
    expect(await rollbackChampion(deps, { reason: 'bad outputs' })).toEqual({ from: 'v2', to: 'v1', repeated: true });
    expect(await rollbackChampion(deps, { to: 'v1', expected: 'v2', reason: 'bad outputs' })).toMatchObject({ to: 'v1', repeated: true });
    expect((await registry.getAlias('champion'))?.version).toBe('v1');
    await expect(rollbackChampion(deps, { to: 'v2', expected: 'v2', reason: 'x' })).rejects.toThrow(AliasConflictError);
    expect((await registry.audit()).filter((e) => e.action === 'rollback')).toHaveLength(1);
    expect(alerts.map((a) => a.kind)).toEqual(['rolled-back']);
  });

  it('lets one of two racing rollbacks move the champion, with one rollback event', async () => {
    await registry.setAlias('champion', 'v2', { actor: 't', reason: 'promote' });
    const other = { ...deps, registry: createRegistry(store) };
    const results = await Promise.all([rollbackChampion(deps, { reason: 'a' }), rollbackChampion(other, { reason: 'a' })]);
    expect(results.map((r) => r.to)).toEqual(['v1', 'v1']);
    expect((await registry.getAlias('champion'))?.version).toBe('v1');
    expect((await registry.audit()).filter((e) => e.action === 'rollback')).toHaveLength(1);
  });

  it('serves it over HTTP with the key, validating the body', async () => {
    const app = createPromoteApp({ ...deps, caller: { apiKey: 'k' } });
    const post = (path: string, body: string, key = 'k') =>
      app.request(path, { method: 'POST', headers: { authorization: `Bearer ${key}` }, body });
    expect((await post('/v1/rollback', '{}', 'wrong')).status).toBe(401);
    expect((await post('/v1/candidates', '{"version":"latest"}')).status).toBe(400);
    expect((await post('/v1/candidates', '{"version":"v9"}')).status).toBe(404);
    expect((await post('/v1/candidates', '{"version":"v1"}')).status).toBe(409);
    expect((await post('/v1/rollback', 'not json')).status).toBe(400);
    const none = await post('/v1/rollback', '{}');
    expect(none.status).toBe(409);
    expect(await none.json()).toMatchObject({
      error: expect.stringMatching(/no earlier champion to roll back to from v1/),
      request_id: expect.any(String),
    });
    const res = await post('/v1/rollback', '{"version":"v2","reason":"test"}');
    expect(await res.json()).toEqual({ from: 'v1', to: 'v2' });
    expect(await (await post('/v1/canary/review', '')).json()).toMatchObject({ decision: 'none' });
  });
});

describe('promote app errors', () => {
  it('answers 409 when the champion moves while a canary review decides (a racing alias move)', async () => {
    await registry.registerVersion(thirdModel, { actor: 't', reason: 'fixture' });
    await registry.setAlias('challenger', 'v2', { actor: 't', reason: 'canary', canaryWeight: 0.5 });
    await served('v1', 100, 70);
    await served('v2', 100, 90);
    // Another writer (a person's rollback elsewhere) moves the champion right after the review read it.
    const read = registry.getAlias.bind(registry);
    vi.spyOn(registry, 'getAlias').mockImplementation(async (alias) => {
      const record = await read(alias);
      if (alias === 'champion') await createRegistry(store).setAlias('champion', 'v3', { actor: 'someone', reason: 'moved meanwhile' });
      return record;
    });
    const app = createPromoteApp({ ...deps, caller: {} });
    const res = await app.request('/v1/canary/review', { method: 'POST' });
    expect(res.status).toBe(409);
    expect(await res.json()).toEqual({
      error: expect.stringMatching(/^Alias "champion" of model "sentiment" is v3, not v1 as expected/),
      request_id: expect.any(String),
    });
    expect(await read('champion')).toMatchObject({ version: 'v3' });
    expect(await read('challenger')).toMatchObject({ version: 'v2' }); // nothing acted on the stale decision
  });

  it('answers 409 for a second canary and a model without a champion', async () => {
    const app = createPromoteApp({ ...deps, caller: {} });
    const post = (body: string) => app.request('/v1/candidates', { method: 'POST', body });
    await registry.registerVersion(thirdModel, { actor: 't', reason: 'fixture' });
    await registry.setAlias('challenger', 'v3', { actor: 't', reason: 'canary', canaryWeight: 0.1 });
    const second = await post('{"version":"v2"}');
    expect(second.status).toBe(409);
    expect(await second.json()).toMatchObject({ error: 'a canary of v3 is running; it must finish before v2 can start one' });

    const empty = createRegistry(store, 'empty');
    await empty.registerVersion(models[0]!, { actor: 't', reason: 'fixture', becomeChampionIfNone: false });
    const res = await createPromoteApp({ ...deps, registry: empty, caller: {} }).request('/v1/candidates', {
      method: 'POST',
      body: '{"version":"v1"}',
    });
    expect(res.status).toBe(409);
    expect(await res.json()).toMatchObject({ error: 'Model "empty" has no champion yet: nothing to compare v1 with' });
  });
});

describe('a model of four classes', () => {
  // v1 says "terrible" to everything, v2 "excellent": each is right on the class it always says.
  let fourClass: string[];
  beforeAll(async () => {
    const labels = [...RATING_LABELS];
    fourClass = [await createTinyModel({ seed: 1, labels, leaning: 0 }), await createTinyModel({ seed: 2, labels, leaning: 3 })];
  }, 60_000);

  async function fourClassDeps(baseRows: { text: string; label: string }[]): Promise<PromoteDeps> {
    const root = await mkdtemp(join(tmpdir(), 'promote-four-'));
    const fourStore = openStore(join(root, 'store'));
    const fourRegistry = createRegistry(fourStore);
    for (const dir of fourClass) await fourRegistry.registerVersion(dir, { actor: 't', reason: 'fixture' });
    const baseEval = join(root, 'base.csv');
    await writeFile(baseEval, ['review,stars_bin', ...baseRows.map((r) => `"${r.text}",${r.label}`)].join('\n'));
    return {
      ...deps,
      store: fourStore,
      registry: fourRegistry,
      cacheDir: join(root, 'cache'),
      baseEval,
      baseFields: { textField: 'review', labelField: 'stars_bin' },
      baseRows: 200,
      gate: { ...deps.gate, minHoldout: 1_000_000 }, // the base set decides
    };
  }
  const rated = (n: number, label: string) => Array.from({ length: n }, (_, i) => ({ text: `${label} review ${i}`, label }));

  it('guards the recall of every class: more accurate on the base set but blind to a class is rejected', async () => {
    const four = await fourClassDeps([...rated(140, 'excellent'), ...rated(60, 'terrible')]);
    const result = await considerCandidate(four, 'v2');
    expect(result.decision).toBe('reject');
    const check = (name: string) => result.gate!.checks.find((c) => c.name === name);
    expect(check('base accuracy (n=200)')).toMatchObject({ candidate: 0.7, champion: 0.3, pass: true });
    expect(result.gate!.checks.filter((c) => c.name.startsWith('base recall of ')).map((c) => c.name)).toEqual(
      RATING_LABELS.map((l) => `base recall of ${l}`),
    );
    // The bar for "terrible" is the champion's macro recall (1 of 4 classes), not its inflated recall of 1.
    expect(check('base recall of terrible')).toMatchObject({ candidate: 0, champion: 0.25, pass: false });
  });

  it('starts a canary for a better candidate, then completes it on live four-class labels', async () => {
    const four = await fourClassDeps(rated(200, 'excellent'));
    expect((await considerCandidate(four, 'v2')).decision).toBe('canary');
    await served('v1', 60, 30, ['terrible', 'good'], four.store);
    await served('v2', 60, 54, ['excellent', 'poor'], four.store);
    const review = await reviewCanary(four);
    expect(review.decision).toBe('complete');
    expect(Object.keys(review.challenger!.per_class)).toEqual([...RATING_LABELS]);
    expect((await four.registry.getAlias('champion'))?.version).toBe('v2');
  });
});
