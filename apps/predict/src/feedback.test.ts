import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { textHash } from '@mlops/data';
import { CanaryRouter, ModelWatcher } from '@mlops/inference';
import { createTinyModel } from '@mlops/inference/testing';
import type { FeedbackRecord } from '@mlops/monitoring';
import { createRegistry, type ModelRegistry } from '@mlops/registry';
import { openStore } from '@mlops/storage';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPredictApp } from './app.ts';
import type { KnownPrediction } from './recent-predictions.ts';

describe('feedback and canary routing', () => {
  let registry: ModelRegistry;
  let champion: ModelWatcher;
  let challenger: ModelWatcher;
  let app: ReturnType<typeof createPredictApp>;
  const written: FeedbackRecord[][] = [];
  const elsewhere = new Map<string, KnownPrediction>([
    ['from-other-instance', { text_hash: 'h1', model_version: 'v1', label: 'positive' }],
  ]);
  const lookups: string[][] = [];

  beforeAll(async () => {
    const store = await mkdtemp(join(tmpdir(), 'predict-fb-'));
    registry = createRegistry(openStore(store));
    const logger = pino({ level: 'silent' });
    const watch = (alias: string) =>
      new ModelWatcher(registry, {
        alias,
        cacheDir: join(store, '..', 'cache'),
        pollMs: 3_600_000,
        serving: { threads: 1, maxBatchSize: 8, maxWaitMs: 0 },
        logger,
        unloadWhenUnset: alias === 'challenger',
      });
    await registry.registerVersion(await createTinyModel({ seed: 1 }), { actor: 'test', reason: 'fixture' });
    await registry.registerVersion(await createTinyModel({ seed: 2 }), { actor: 'test', reason: 'fixture' });
    champion = watch('champion');
    challenger = watch('challenger');
    await Promise.all([champion.start(), challenger.start()]);
    app = createPredictApp({
      models: new CanaryRouter(champion, challenger),
      modelName: 'sentiment',
      limits: { maxTexts: 4, maxTextBytes: 200, maxBodyBytes: 4_000 },
      logger,
      feedback: {
        lookup: async (ids) => {
          lookups.push(ids);
          return new Map(ids.flatMap((id) => (elsewhere.has(id) ? [[id, elsewhere.get(id)!] as const] : [])));
        },
        write: async (records) => void written.push(records),
      },
    });
  }, 60_000);
  afterAll(() => Promise.all([champion.stop(), challenger.stop()]));

  const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
    app.request(path, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
  const predict = async (text: string, headers: Record<string, string> = {}) =>
    (await (await post('/v1/predict', { text }, headers)).json()) as {
      model_version: string;
      predictions: { id: string; label: string }[];
    };

  it('takes a label for a prediction id, joined to the prediction it labels', async () => {
    const { predictions } = await predict('a good film');
    const res = await post('/v1/feedback', { prediction_id: predictions[0]!.id, label: 'positive' });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ accepted: 1, duplicates: 0, feedback_ids: [`p:${predictions[0]!.id}`] });
    expect(written.at(-1)).toEqual([
      expect.objectContaining({
        prediction_id: predictions[0]!.id,
        label: 'positive',
        text_hash: textHash('a good film'),
        text: 'a good film',
        model_version: 'v1',
        predicted_label: predictions[0]!.label,
        source: 'api',
        caller: 'anonymous', // an open route: nobody was checked
      }),
    ]);
    expect(lookups).toEqual([]); // known to this instance: no store read
  });

  it("records who sent each label: the key, or the ID token's principal", async () => {
    const guarded = createPredictApp({
      models: new CanaryRouter(champion, challenger),
      modelName: 'sentiment',
      limits: { maxTexts: 4, maxTextBytes: 200, maxBodyBytes: 4_000 },
      logger: pino({ level: 'silent' }),
      caller: { apiKey: 'k' },
      feedback: { lookup: async () => new Map(), write: async (records) => void written.push(records) },
    });
    const res = await guarded.request('/v1/feedback', {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer k' },
      body: JSON.stringify({ text: 'fine', label: 'positive' }),
    });
    expect(res.status).toBe(200);
    expect(written.at(-1)).toEqual([expect.objectContaining({ text: 'fine', caller: 'api-key' })]);
  });

  it('takes labels for texts and batches, counting a repeated item once', async () => {
    const res = await post('/v1/feedback', {
      items: [
        { text: 'dull', label: 'negative' },
        { text: 'dull', label: 'positive' },
        { prediction_id: 'from-other-instance', label: 'negative' },
      ],
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ accepted: 2, duplicates: 1 });
    const batch = written.at(-1)!;
    expect(batch.find((r) => r.text === 'dull')).toMatchObject({ feedback_id: `t:${textHash('dull')}`, label: 'positive' });
    expect(batch.find((r) => r.prediction_id === 'from-other-instance')).toMatchObject({ text_hash: 'h1', model_version: 'v1' });
    expect(lookups.at(-1)).toEqual(['from-other-instance']);
  });

  it.each([
    ['an unknown label', { text: 'x', label: 'neutral' }, 400, /unknown label "neutral"; expected one of negative, positive/],
    [
      'an unknown prediction id',
      {
        items: [
          { text: 'x', label: 'positive' },
          { prediction_id: 'nope', label: 'positive' },
        ],
      },
      404,
      /unknown prediction id "nope"/,
    ],
    ['both text and id', { text: 'x', prediction_id: 'a', label: 'positive' }, 400, /exactly one of/],
    ['a missing label', { text: 'x' }, 400, /label/],
    ['an empty batch', { items: [] }, 400, /at least one item/],
    ['malformed JSON', '{"label":', 400, /malformed JSON/],
  ])('rejects %s and writes nothing', async (_name, body, status, message) => {
    const before = written.length;
    const res = await post('/v1/feedback', body);
    expect(res.status).toBe(status);
    expect(((await res.json()) as { error: string }).error).toMatch(message);
    expect(written.length).toBe(before);
  });

  it('names each bad item in details', async () => {
    const items = [
      { text: 'x', label: 'neutral' },
      { text: 'y', label: 'positive' },
      { text: 'z', label: 'meh' },
    ];
    const labels = await post('/v1/feedback', { items });
    expect(labels.status).toBe(400);
    expect(await labels.json()).toEqual({
      error:
        'unknown label: unknown label "neutral"; expected one of negative, positive; unknown label "meh"; expected one of negative, positive',
      request_id: expect.any(String),
      details: [
        { path: 'items.0.label', message: 'unknown label "neutral"; expected one of negative, positive' },
        { path: 'items.2.label', message: 'unknown label "meh"; expected one of negative, positive' },
      ],
    });
    const ids = await post('/v1/feedback', {
      items: [
        { prediction_id: 'from-other-instance', label: 'positive' },
        { prediction_id: 'nope', label: 'positive' },
      ],
    });
    expect(ids.status).toBe(404);
    expect(await ids.json()).toMatchObject({ details: [{ path: 'items.1.prediction_id', message: 'unknown prediction id "nope"' }] });
  });

  it('routes a sticky share of request keys to the challenger during a canary, and stops when it ends', async () => {
    await registry.setAlias('challenger', 'v2', { actor: 'test', reason: 'canary', canaryWeight: 0.5 });
    await challenger.refresh();
    const keys = Array.from({ length: 40 }, (_, i) => `user-${i}`);
    const first = await Promise.all(keys.map((k) => predict('a good film', { 'x-request-key': k })));
    const again = await Promise.all(keys.map((k) => predict('a good film', { 'x-request-key': k })));
    expect(again.map((r) => r.model_version)).toEqual(first.map((r) => r.model_version));
    const share = first.filter((r) => r.model_version === 'v2').length / keys.length;
    expect(share).toBeGreaterThan(0.2);
    expect(share).toBeLessThan(0.8);

    await registry.clearAlias('challenger', { actor: 'test', reason: 'canary done' });
    await challenger.refresh();
    expect(challenger.current()).toBeUndefined();
    const after = await Promise.all(keys.map((k) => predict('a good film', { 'x-request-key': k })));
    expect(after.every((r) => r.model_version === 'v1')).toBe(true);
  });
});
