import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Alert } from '@mlops/alerts';
import { textHash } from '@mlops/data';
import { RATING_LABELS } from '@mlops/data/testing';
import { copyAsAnotherVersion, createTinyModel } from '@mlops/inference/testing';
import { feedbackId, logKey, toJsonl, type FeedbackRecord, type PredictionRecord, type Reference } from '@mlops/monitoring';
import { createRegistry, type ModelRegistry } from '@mlops/registry';
import { openStore, type ObjectStore } from '@mlops/storage';
import pino from 'pino';
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createEvaluateApp } from './app.ts';
import { evaluateOnce, type EvaluatorDeps, type RetrainRequest } from './evaluation.ts';

const labels = ['negative', 'positive'];
let modelDir: string;
beforeAll(async () => {
  // A version with a training reference: long texts, confident scores, both labels.
  modelDir = await createTinyModel();
  const n = 1000;
  const reference: Reference = {
    source: 'validation',
    n,
    scores: Array.from({ length: n }, (_, i) => 0.6 + (i % 40) / 100),
    lengths: Array.from({ length: n }, (_, i) => 500 + ((i * 7) % 700)),
    unkRatios: Array.from({ length: n }, (_, i) => (i % 10) / 1000),
    labels: Array.from({ length: n }, (_, i) => labels[i % 2]!),
  };
  await writeFile(join(modelDir, 'reference.json'), JSON.stringify(reference));
}, 60_000);

let store: ObjectStore;
let registry: ModelRegistry;
let alerts: Alert[];
let retrains: RetrainRequest[];
let reviews: number;
let deps: EvaluatorDeps;
beforeEach(async () => {
  const root = await mkdtemp(join(tmpdir(), 'evaluate-'));
  store = openStore(join(root, 'store'));
  registry = createRegistry(store);
  alerts = [];
  retrains = [];
  reviews = 0;
  deps = {
    store,
    registry,
    windowMinutes: 60,
    policy: { accuracyThreshold: 0.8 },
    feedbackPrefix: 'feedback/incoming/',
    alerter: { notify: async (a) => (alerts.push(a), []) },
    retrain: async (r) => (retrains.push(r), { started: true }),
    reviewCanary: async () => (reviews++, { decision: 'wait' }),
    logger: pino({ level: 'silent' }),
  };
});

/** n predictions of `version` like the reference (or short texts when `short`), `correct` of them labelled right. */
async function traffic(version: string, n: number, correct: number, opts: { short?: boolean; instance?: string } = {}) {
  const time = new Date().toISOString();
  const predictions: PredictionRecord[] = [];
  const feedback: FeedbackRecord[] = [];
  for (let i = 0; i < n; i++) {
    const text = `${opts.instance ?? 'a'} review ${i}`;
    const label = labels[i % 2]!;
    const id = `${opts.instance ?? 'a'}-${version}-${i}`;
    predictions.push({
      prediction_id: id,
      request_id: 'r',
      time,
      model_version: version,
      label,
      score: 0.6 + (i % 40) / 100,
      text_length: opts.short ? 30 + (i % 40) : 500 + ((i * 7) % 700),
      tokens: 100,
      unk_ratio: (i % 10) / 1000,
      text_hash: textHash(text),
    });
    const truth = i < correct ? label : labels[(i + 1) % 2]!;
    feedback.push({
      feedback_id: feedbackId({ prediction_id: id, text_hash: textHash(text) }),
      time,
      label: truth,
      prediction_id: id,
      text_hash: textHash(text),
      source: 'api',
    });
  }
  await store.put(logKey('predictions', new Date(), opts.instance ?? 'a', 0), toJsonl(predictions));
  await store.put(logKey('feedback', new Date(), opts.instance ?? 'a', 0), toJsonl(feedback));
}

describe('evaluateOnce', () => {
  it('needs a champion', async () => {
    await expect(evaluateOnce(deps)).rejects.toThrow(/has no champion yet/);
  });

  it('finds a model that predicts like its reference and is right healthy, and does nothing else', async () => {
    await registry.registerVersion(modelDir, { actor: 't', reason: 'fixture' });
    await traffic('v1', 400, 360);
    const record = await evaluateOnce(deps);
    expect(record.status).toBe('healthy');
    expect(record.champion.accuracy).toMatchObject({ n: 400, accuracy: 0.9 });
    expect(record.champion.drift?.drifting).toBe(false);
    expect(record.actions).toEqual([]);
    expect(alerts).toEqual([]);
    expect(retrains).toEqual([]);
    expect(await store.list('evaluations/sentiment/')).toHaveLength(1);
  });

  it('reads labels and the reference from the registry, and measures no drift for a version without one', async () => {
    await registry.registerVersion(await createTinyModel(), { actor: 't', reason: 'fixture' });
    await traffic('v1', 100, 95);
    const record = await evaluateOnce(deps);
    expect(record.champion.accuracy).toMatchObject({ n: 100, accuracy: 0.95 });
    expect(record.champion.drift).toBeNull();
    expect(record.reasons).toContain('v1 has no reference.json: drift not measured');
  });

  it('calls a confidently inaccurate model stale: one alert per change of state, a retrain request per run', async () => {
    await registry.registerVersion(modelDir, { actor: 't', reason: 'fixture' });
    await traffic('v1', 300, 195); // 65% right
    const first = await evaluateOnce(deps);
    expect(first.status).toBe('stale');
    expect(first.reasons[0]).toMatch(/accuracy 0\.650 \(95% CI .*n=300\) is below 0\.8 with confidence/);
    expect(alerts.map((a) => [a.kind, a.severity, a.version])).toEqual([['stale', 'critical', 'v1']]);
    expect(alerts[0]!.facts).toMatchObject({ accuracy: 0.65, labelled: 300 });
    expect(retrains).toEqual([{ status: 'stale', version: 'v1', reason: expect.stringMatching(/accuracy 0\.650/) }]);
    expect(first.actions.map((a) => [a.kind, a.ok])).toEqual([
      ['alert', true],
      ['retrain', true],
    ]);

    await evaluateOnce(deps);
    expect(alerts).toHaveLength(1);
    expect(retrains).toHaveLength(2);

    // A window with no traffic (e.g. while the retrain runs) is not a recovery: no second alert after it.
    await new Promise((r) => setTimeout(r, 5));
    const quiet = await evaluateOnce({ ...deps, windowMinutes: 1e-6 });
    expect(quiet).toMatchObject({ status: 'healthy', known_status: 'stale' });
    await new Promise((r) => setTimeout(r, 5));
    expect((await evaluateOnce(deps)).status).toBe('stale');
    expect(alerts).toHaveLength(1);
  });

  it('calls short texts against a long-text reference drifting, before any label arrives', async () => {
    await registry.registerVersion(modelDir, { actor: 't', reason: 'fixture' });
    await traffic('v1', 200, 0, { short: true });
    await store.delete((await store.list('logs/feedback/'))[0]!.key);
    const record = await evaluateOnce(deps);
    expect(record.status).toBe('drifting');
    expect(record.champion.drift?.measures.find((m) => m.name === 'length_psi')?.drifting).toBe(true);
    expect(alerts.map((a) => a.kind)).toEqual(['drifting']);
    expect(retrains.map((r) => r.status)).toEqual(['drifting']);
  });

  it('imports dropped feedback files, records a failing retrain call and still stores the evaluation', async () => {
    await registry.registerVersion(modelDir, { actor: 't', reason: 'fixture' });
    await traffic('v1', 300, 150);
    await store.put('feedback/incoming/labels.jsonl', '{"text":"fine","label":"positive"}\n');
    const record = await evaluateOnce({ ...deps, retrain: async () => Promise.reject(new Error('retrain-trigger is down')) });
    expect(record.feedback).toMatchObject({ rows: 301, imported_files: 1 });
    expect(record.actions.find((a) => a.kind === 'retrain')).toEqual({ kind: 'retrain', ok: false, detail: 'retrain-trigger is down' });
    expect(await store.list('evaluations/sentiment/')).toHaveLength(1);
  });

  it('measures the challenger separately and asks promote to review the canary', async () => {
    await registry.registerVersion(modelDir, { actor: 't', reason: 'fixture' });
    await registry.registerVersion(await copyAsAnotherVersion(modelDir), { actor: 't', reason: 'fixture' });
    await registry.setAlias('challenger', 'v2', { actor: 't', reason: 'canary', canaryWeight: 0.5 });
    await traffic('v1', 200, 120, { instance: 'x' });
    await traffic('v2', 200, 190, { instance: 'y' });
    const record = await evaluateOnce(deps);
    expect(record.champion.accuracy?.accuracy).toBe(0.6);
    expect(record.challenger?.accuracy?.accuracy).toBe(0.95);
    expect(reviews).toBe(1);
  });
});

describe('evaluate app', () => {
  it('runs on POST with the API key, lists evaluations, and answers JSON errors', async () => {
    const app = createEvaluateApp({ ...deps, caller: { apiKey: 'k' } });
    expect((await app.request('/v1/evaluate', { method: 'POST' })).status).toBe(401);
    const noChampion = await app.request('/v1/evaluate', { method: 'POST', headers: { authorization: 'Bearer k' } });
    expect(noChampion.status).toBe(409);
    expect(await noChampion.json()).toMatchObject({ error: expect.stringMatching(/no champion/) });

    await registry.registerVersion(modelDir, { actor: 't', reason: 'fixture' });
    await traffic('v1', 100, 95);
    const res = await app.request('/v1/evaluate', { method: 'POST', headers: { authorization: 'Bearer k' } });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ status: 'healthy', champion: { version: 'v1' } });
    const list = (await (await app.request('/v1/evaluations', { headers: { 'x-api-key': 'k' } })).json()) as { evaluations: unknown[] };
    expect(list.evaluations).toHaveLength(1);
    expect((await app.request('/v1/evaluations?since=yesterday', { headers: { 'x-api-key': 'k' } })).status).toBe(400);
  });
});

describe('a scheduled tick', () => {
  it('is evaluated once however often it is delivered, to one instance or two; a call by hand always runs', async () => {
    await registry.registerVersion(modelDir, { actor: 't', reason: 'fixture' });
    await traffic('v1', 100, 50); // stale: alert and retrain
    const instances = [createEvaluateApp(deps), createEvaluateApp({ ...deps, registry: createRegistry(store) })];
    const deliver = (i: number, tick: string) =>
      instances[i]!.request('/v1/evaluate', { method: 'POST', headers: { 'x-cloudscheduler-scheduletime': tick } });
    const tick = '2026-12-01T10:00:00Z';
    const first = await Promise.all([deliver(0, tick), deliver(1, tick)]);
    expect(first.map((r) => r.status).sort()).toEqual(expect.arrayContaining([200]));
    const retry = await deliver(0, tick);
    expect(retry.status).toBe(200);
    expect(retry.headers.get('x-mlops-repeated')).toBe('true');
    expect(await retry.json()).toMatchObject({ status: 'stale', champion: { version: 'v1' } });
    expect(retrains).toHaveLength(1);
    expect(alerts).toHaveLength(1);

    expect((await deliver(1, '2026-12-01T10:15:00Z')).status).toBe(200); // the next tick runs
    expect(retrains).toHaveLength(2);
    expect((await instances[0]!.request('/v1/evaluate', { method: 'POST' })).status).toBe(200);
    expect(retrains).toHaveLength(3);
    const bad = await instances[0]!.request('/v1/evaluate', { method: 'POST', headers: { 'x-mlops-scheduled-time': 'soon' } });
    expect(bad.status).toBe(400);
  });
});

describe('evaluateOnce with four classes', () => {
  const classes = [...RATING_LABELS];
  let fourClassDir: string;
  beforeAll(async () => {
    fourClassDir = await createTinyModel({ labels: classes });
    const n = 1000;
    const reference: Reference = {
      source: 'validation',
      n,
      scores: Array.from({ length: n }, (_, i) => 0.4 + (i % 50) / 100),
      lengths: Array.from({ length: n }, (_, i) => 100 + ((i * 7) % 300)),
      unkRatios: Array.from({ length: n }, () => 0),
      labels: Array.from({ length: n }, (_, i) => classes[i % 4]!),
    };
    await writeFile(join(fourClassDir, 'reference.json'), JSON.stringify(reference));
  }, 60_000);

  /** Predictions like the reference in all but their label, with the true label of each as feedback. */
  async function labelledTraffic(rows: { predicted: string; truth: string }[]) {
    const time = new Date().toISOString();
    const predictions: PredictionRecord[] = rows.map((row, i) => ({
      prediction_id: `p-${i}`,
      request_id: 'r',
      time,
      model_version: 'v1',
      label: row.predicted,
      score: 0.4 + (i % 50) / 100,
      text_length: 100 + ((i * 7) % 300),
      tokens: 50,
      unk_ratio: 0,
      text_hash: textHash(`rated ${i}`),
    }));
    const feedback: FeedbackRecord[] = rows.map((row, i) => ({
      feedback_id: feedbackId({ prediction_id: `p-${i}`, text_hash: textHash(`rated ${i}`) }),
      time,
      label: row.truth,
      prediction_id: `p-${i}`,
      text_hash: textHash(`rated ${i}`),
      source: 'api',
    }));
    await store.put(logKey('predictions', new Date(), 'a', 0), toJsonl(predictions));
    await store.put(logKey('feedback', new Date(), 'a', 0), toJsonl(feedback));
  }

  it("measures each of the version's classes, imports a CSV of other column names, and calls a shifted label mix drifting", async () => {
    await registry.registerVersion(fourClassDir, { actor: 't', reason: 'fixture' });
    // Half the traffic is now predicted "terrible" (a quarter in the reference); every prediction is right.
    const rows = Array.from({ length: 400 }, (_, i) => {
      const label = i % 2 ? classes[1 + ((i >> 1) % 3)]! : 'terrible';
      return { predicted: label, truth: label };
    });
    await labelledTraffic(rows);
    await store.put('feedback/incoming/stars.csv', 'review,stars_bin\n"sublime, truly",excellent\n"meh",so-so\n');

    const record = await evaluateOnce({ ...deps, feedbackFields: { textField: 'review', labelField: 'stars_bin' } });
    expect(record.feedback).toMatchObject({ rows: 401, imported_files: 1, import_errors: [] });
    const accuracy = record.champion.accuracy!;
    expect(Object.keys(accuracy.per_class)).toEqual(classes);
    expect(accuracy).toMatchObject({ n: 400, accuracy: 1, macro_recall: 1 });
    expect(Object.values(accuracy.per_class).map((c) => c.support)).toEqual([200, 67, 67, 66]);
    const drifting = record.champion.drift!.measures.filter((m) => m.drifting).map((m) => m.name);
    expect(drifting).toEqual(['label_mix']);
    expect(record.status).toBe('drifting');
    expect(alerts.map((a) => a.kind)).toEqual(['drifting']);
    expect(alerts[0]!.facts).toHaveProperty('label_mix');
  });
});
