import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Worker } from 'node:worker_threads';
import { RATING_LABELS } from '@mlops/data/testing';
import { ModelWatcher } from '@mlops/inference';
import { createTinyModel } from '@mlops/inference/testing';
import type { FeedbackRecord } from '@mlops/monitoring';
import { createRegistry, type ModelRegistry } from '@mlops/registry';
import { openStore } from '@mlops/storage';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPredictApp } from './app.ts';

const LIMITS = { maxTexts: 4, maxTextBytes: 200, maxBodyBytes: 4_000 };

describe('predict app', () => {
  let registry: ModelRegistry;
  let watcher: ModelWatcher;
  let app: ReturnType<typeof createPredictApp>;
  const logs: { msg: string; version?: string }[] = [];
  const predicted: string[] = [];

  beforeAll(async () => {
    const store = await mkdtemp(join(tmpdir(), 'predict-store-'));
    registry = createRegistry(openStore(store));
    const logger = pino({ level: 'info' }, { write: (line: string) => logs.push(JSON.parse(line)) });
    watcher = new ModelWatcher(registry, {
      alias: 'champion',
      cacheDir: join(store, '..', 'cache'),
      pollMs: 3_600_000,
      serving: { threads: 1, maxBatchSize: 8, maxWaitMs: 2 },
      logger,
    });
    app = createPredictApp({
      models: watcher,
      modelName: 'sentiment',
      limits: LIMITS,
      logger,
      onPredictions: (r) => predicted.push(...r.texts),
    });
  }, 60_000);
  afterAll(() => watcher.stop());

  const post = (path: string, body: unknown, headers: Record<string, string> = { 'content-type': 'application/json' }) =>
    app.request(path, { method: 'POST', headers, body: typeof body === 'string' ? body : JSON.stringify(body) });

  it('is live before a model exists, but not ready', async () => {
    await watcher.start();
    expect((await app.request('/healthz')).status).toBe(200);
    expect((await app.request('/readyz')).status).toBe(503);
    const res = await post('/v1/predict', { text: 'a good film' });
    expect(res.status).toBe(503);
    expect(await res.json()).toMatchObject({ error: 'no model loaded yet' });
    expect((await app.request('/v2/health/ready')).status).toBe(503);
  });

  it('loads the champion and answers v1 predictions with version and request id', async () => {
    await registry.registerVersion(await createTinyModel({ seed: 1 }), { actor: 'test', reason: 'fixture' });
    await watcher.refresh();
    expect(await (await app.request('/readyz')).json()).toEqual({ status: 'ready', model_version: 'v1' });

    const res = await post(
      '/v1/predict',
      { texts: ['a good film', 'awful plot'] },
      { 'content-type': 'application/json; charset=utf-8', 'x-request-id': 'req-42' },
    );
    expect(res.status).toBe(200);
    expect(res.headers.get('x-request-id')).toBe('req-42');
    const body = (await res.json()) as {
      request_id: string;
      model_version: string;
      predictions: { id: string; label: string; score: number; probabilities: Record<string, number> }[];
    };
    expect(body.request_id).toBe('req-42');
    expect(body.model_version).toBe('v1');
    expect(body.predictions).toHaveLength(2);
    for (const p of body.predictions) {
      expect(['negative', 'positive']).toContain(p.label);
      expect(p.score).toBe(p.probabilities[p.label]);
      expect(Object.keys(p)).toEqual(['id', 'label', 'score', 'probabilities']);
    }
    const single = (await (await post('/v1/predict', { text: 'a good film' })).json()) as typeof body;
    const { id: singleId, ...singleRest } = single.predictions[0]!;
    const { id: firstId, ...firstRest } = body.predictions[0]!;
    expect(singleRest).toEqual(firstRest);
    expect(singleId).not.toBe(firstId);
    expect(predicted).toContain('awful plot');

    const model = (await (await app.request('/v1/model')).json()) as Record<string, unknown>;
    expect(model).toMatchObject({ name: 'sentiment', version: 'v1', labels: ['negative', 'positive'], max_length: 16 });
    expect(model.metrics).toMatchObject({ validation: { accuracy: 0.5 } });
  });

  it.each([
    ['malformed JSON', '{"text": "a good', 400, /malformed JSON/],
    ['a number as text', { text: 5 }, 400, /text must be a string/],
    ['an empty text', { text: '   ' }, 400, /text must not be empty/],
    ['an empty list', { texts: [] }, 400, /at least one text/],
    ['too many texts', { texts: ['a', 'b', 'c', 'd', 'e'] }, 400, /at most 4 texts/],
    ['a text over the byte limit', { text: 'é'.repeat(101) }, 400, /at most 200 bytes/],
    ['a non-string in the list', { texts: ['ok', null] }, 400, /texts.1 must be a string/],
    ['both fields', { text: 'a', texts: ['b'] }, 400, /exactly one of/],
    ['unknown fields', { text: 'a', extra: 1 }, 400, /extra/],
    ['not an object', [1, 2], 400, /invalid request/],
    ['a body over the size limit', { texts: ['x'.repeat(3000), 'y'.repeat(3000)] }, 413, /larger than 4000 bytes/],
  ])('rejects %s with a JSON 4xx', async (_name, body, status, message) => {
    const res = await post('/v1/predict', body);
    expect(res.status).toBe(status);
    const json = (await res.json()) as { error: string; request_id: string };
    expect(json.error).toMatch(message);
    expect(json.request_id).toEqual(expect.any(String));
  });

  it('rejects a wrong content type and unknown routes with JSON', async () => {
    const res = await post('/v1/predict', 'text=hello', { 'content-type': 'application/x-www-form-urlencoded' });
    expect(res.status).toBe(415);
    expect(((await res.json()) as { error: string }).error).toMatch(/content-type must be application\/json/);
    const missing = await app.request('/v1/nothing');
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({ error: 'no route GET /v1/nothing' });
  });

  describe('Open Inference Protocol (v2)', () => {
    const infer = (body: unknown, name = 'sentiment') => post(`/v2/models/${name}/infer`, body);

    it('answers health, metadata and readiness', async () => {
      expect(await (await app.request('/v2/health/live')).json()).toEqual({ live: true });
      expect(await (await app.request('/v2/health/ready')).json()).toEqual({ ready: true });
      expect(await (await app.request('/v2/models/sentiment/ready')).json()).toEqual({ name: 'sentiment', ready: true });
      const meta = (await (await app.request('/v2/models/sentiment')).json()) as Record<string, unknown>;
      expect(meta).toMatchObject({ name: 'sentiment', versions: ['v1'], inputs: [{ name: 'text', datatype: 'BYTES', shape: [-1] }] });
    });

    it('infers labels (BYTES) and probabilities (FP32) for a BYTES tensor of texts', async () => {
      const res = await infer({
        id: 'abc',
        inputs: [{ name: 'text', shape: [2], datatype: 'BYTES', data: ['a good film', 'awful plot'] }],
      });
      expect(res.status).toBe(200);
      const body = (await res.json()) as {
        id: string;
        model_version: string;
        outputs: { name: string; shape: number[]; datatype: string; data: unknown[] }[];
      };
      expect(body).toMatchObject({ model_name: 'sentiment', model_version: 'v1', id: 'abc' });
      const [labels, probabilities] = body.outputs;
      expect(labels).toMatchObject({ name: 'label', datatype: 'BYTES', shape: [2] });
      expect(probabilities).toMatchObject({ name: 'probabilities', datatype: 'FP32', shape: [2, 2] });
      const p = probabilities!.data as number[];
      expect(p[0]! + p[1]!).toBeCloseTo(1, 5);

      const only = (await (
        await infer({ inputs: [{ name: 'text', shape: [1, 1], datatype: 'BYTES', data: [['a good film']] }], outputs: [{ name: 'label' }] })
      ).json()) as { outputs: { name: string }[] };
      expect(only.outputs.map((o) => o.name)).toEqual(['label']);
    });

    it.each([
      ['a wrong datatype', { inputs: [{ name: 'text', shape: [1], datatype: 'FP32', data: ['x'] }] }, 400, /datatype must be BYTES/],
      [
        'a shape that does not match',
        { inputs: [{ name: 'text', shape: [3], datatype: 'BYTES', data: ['x'] }] },
        400,
        /does not match 1 texts/,
      ],
      ['no inputs', { inputs: [] }, 400, /exactly one input/],
      [
        'an unknown output',
        { inputs: [{ name: 'text', shape: [1], datatype: 'BYTES', data: ['x'] }], outputs: [{ name: 'logits' }] },
        400,
        /invalid request/,
      ],
      ['malformed JSON', '{', 400, /malformed JSON/],
    ])('rejects %s with its {"error"} shape', async (_name, body, status, message) => {
      const res = await infer(body);
      expect(res.status).toBe(status);
      const json = (await res.json()) as Record<string, unknown>;
      expect(Object.keys(json)).toEqual(['error']);
      expect(json.error).toMatch(message);
    });

    it('404s an unknown model name', async () => {
      const res = await infer({ inputs: [{ name: 'text', shape: [1], datatype: 'BYTES', data: ['x'] }] }, 'other');
      expect(res.status).toBe(404);
      expect(await res.json()).toEqual({ error: 'unknown model "other"; this server has "sentiment"' });
    });
  });

  it('swaps to a new champion under load without failing a request, and keeps serving past an unloadable one', async () => {
    const v2 = await registry.registerVersion(await createTinyModel({ seed: 2 }), { actor: 'test', reason: 'fixture' });
    let stop = false;
    const statuses: number[] = [];
    const versions = new Set<string>();
    const client = async () => {
      while (!stop) {
        const res = await post('/v1/predict', { texts: ['a good film', 'great acting'] });
        statuses.push(res.status);
        versions.add(((await res.json()) as { model_version: string }).model_version);
      }
    };
    const clients = Array.from({ length: 8 }, client);
    await new Promise((r) => setTimeout(r, 100));
    await registry.setAlias('champion', v2.version, { actor: 'test', reason: 'promote' });
    await watcher.refresh();
    await new Promise((r) => setTimeout(r, 100));
    stop = true;
    await Promise.all(clients);
    expect(statuses.length).toBeGreaterThan(20);
    expect(statuses.every((s) => s === 200)).toBe(true);
    expect([...versions].sort()).toEqual(['v1', 'v2']);

    // A version whose ONNX file is corrupt: logged, and v2 keeps serving.
    const broken = await createTinyModel({ seed: 3 });
    await writeFile(join(broken, 'onnx', 'model.onnx'), 'not a model');
    const v3 = await registry.registerVersion(broken, { actor: 'test', reason: 'fixture' });
    await registry.setAlias('champion', v3.version, { actor: 'test', reason: 'bad promote' });
    await watcher.refresh();
    const res = await post('/v1/predict', { text: 'a good film' });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { model_version: string }).model_version).toBe('v2');
    expect(logs.some((l) => l.msg.startsWith('cannot load model version') && l.version === 'v3')).toBe(true);
  });

  it('answers 503 while its inference workers are dead, and reloads the model on the next check', async () => {
    await registry.setAlias('champion', 'v2', { actor: 'test', reason: 'back from the broken v3' });
    await watcher.refresh();
    const serving = watcher.current()!;
    expect(serving.metadata.version).toBe('v2');
    // Reach into the pool to stop its workers, as a crash or an OOM kill would.
    const pool = (serving as unknown as { classifier: { sessions: { slots: { worker: Worker }[] } } }).classifier.sessions;
    await Promise.all(pool.slots.map((slot) => slot.worker.terminate()));
    const down = await post('/v1/predict', { text: 'a good film' });
    expect(down.status).toBe(503);
    expect(((await down.json()) as { error: string }).error).toMatch(/being reloaded/);
    expect((await app.request('/readyz')).status).toBe(503);
    await watcher.refresh();
    expect(watcher.current()).not.toBe(serving);
    const up = await post('/v1/predict', { text: 'a good film' });
    expect(up.status).toBe(200);
    expect(((await up.json()) as { model_version: string }).model_version).toBe('v2');
    expect(logs.some((l) => l.msg === 'the serving model stopped working; reloading')).toBe(true);
  });
});

describe('predict app with a model of four classes', () => {
  const classes = [...RATING_LABELS];
  let watcher: ModelWatcher;
  let app: ReturnType<typeof createPredictApp>;
  const written: FeedbackRecord[][] = [];

  beforeAll(async () => {
    const store = await mkdtemp(join(tmpdir(), 'predict-four-'));
    const registry = createRegistry(openStore(store));
    await registry.registerVersion(await createTinyModel({ labels: classes }), { actor: 'test', reason: 'fixture' });
    const logger = pino({ level: 'silent' });
    watcher = new ModelWatcher(registry, {
      alias: 'champion',
      cacheDir: join(store, '..', 'cache'),
      pollMs: 3_600_000,
      serving: { threads: 1, sessions: 0, maxBatchSize: 8, maxWaitMs: 0 },
      logger,
    });
    await watcher.start();
    app = createPredictApp({
      models: watcher,
      modelName: 'ratings',
      limits: LIMITS,
      logger,
      feedback: { lookup: async () => new Map(), write: async (records) => void written.push(records) },
    });
  }, 60_000);
  afterAll(() => watcher.stop());

  const post = (path: string, body: unknown) =>
    app.request(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

  it("answers v1 and the Open Inference Protocol with every class's probability, in the version's class order", async () => {
    expect(await (await app.request('/v1/model')).json()).toMatchObject({ name: 'ratings', labels: classes });
    const v1 = (await (await post('/v1/predict', { texts: ['a good film', 'awful plot'] })).json()) as {
      predictions: { label: string; score: number; probabilities: Record<string, number> }[];
    };
    for (const p of v1.predictions) {
      expect(Object.keys(p.probabilities)).toEqual(classes);
      expect(Object.values(p.probabilities).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
      expect(p.score).toBe(Math.max(...Object.values(p.probabilities)));
      expect(p.probabilities[p.label]).toBe(p.score);
    }

    const metadata = (await (await app.request('/v2/models/ratings')).json()) as { outputs: { name: string; shape: number[] }[] };
    expect(metadata.outputs.find((o) => o.name === 'probabilities')?.shape).toEqual([-1, 4]);
    const infer = (await (
      await post('/v2/models/ratings/infer', {
        inputs: [{ name: 'text', shape: [2], datatype: 'BYTES', data: ['a good film', 'awful plot'] }],
      })
    ).json()) as { outputs: { name: string; shape: number[]; data: (string | number)[] }[] };
    const probabilities = infer.outputs.find((o) => o.name === 'probabilities')!;
    expect(probabilities.shape).toEqual([2, 4]);
    const first = v1.predictions[0]!;
    probabilities.data.slice(0, 4).forEach((value, i) => expect(value).toBeCloseTo(first.probabilities[classes[i]!]!, 5));
    expect(infer.outputs.find((o) => o.name === 'label')?.data).toEqual(v1.predictions.map((p) => p.label));
  });

  it("takes feedback in the version's classes only", async () => {
    const accepted = await post('/v1/feedback', { items: [{ text: 'a good film', label: 'excellent' }] });
    expect(accepted.status).toBe(200);
    expect(written.flat().map((r) => r.label)).toEqual(['excellent']);
    const refused = await post('/v1/feedback', { text: 'a good film', label: 'positive' });
    expect(refused.status).toBe(400);
    expect(await refused.json()).toMatchObject({
      details: [{ path: 'items.0.label', message: 'unknown label "positive"; expected one of terrible, poor, good, excellent' }],
    });
  });
});

describe('predict app under more load than its queue holds', () => {
  let watcher: ModelWatcher;
  let app: ReturnType<typeof createPredictApp>;

  beforeAll(async () => {
    const store = await mkdtemp(join(tmpdir(), 'predict-busy-'));
    const registry = createRegistry(openStore(store));
    await registry.registerVersion(await createTinyModel(), { actor: 'test', reason: 'fixture' });
    const logger = pino({ level: 'silent' });
    watcher = new ModelWatcher(registry, {
      alias: 'champion',
      cacheDir: join(store, '..', 'cache'),
      pollMs: 3_600_000,
      // One pass at a time of one text, and one text may wait: the rest of a burst is refused.
      serving: { sessions: 1, threads: 1, maxBatchSize: 1, maxWaitMs: 0, maxQueued: 1 },
      logger,
    });
    await watcher.start();
    app = createPredictApp({ models: watcher, modelName: 'sentiment', limits: LIMITS, logger });
  }, 60_000);
  afterAll(() => watcher.stop());

  it('answers 503 with Retry-After and a JSON reason at once instead of queueing, and serves the rest', async () => {
    const responses = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        app.request('/v1/predict', {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ text: `review number ${i}` }),
        }),
      ),
    );
    const statuses = responses.map((r) => r.status);
    expect(
      statuses.every((s) => s === 200 || s === 503),
      statuses.join(','),
    ).toBe(true);
    const busy = responses.filter((r) => r.status === 503);
    expect(busy.length).toBeGreaterThan(0);
    expect(statuses.filter((s) => s === 200).length).toBeGreaterThanOrEqual(2);
    for (const r of busy) {
      expect(Number(r.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect(await r.json()).toMatchObject({ error: expect.stringMatching(/^overloaded: 1 texts are waiting \(at most 1\)/) });
    }
    // Once the burst has drained, a request is served again.
    const after = await app.request('/v1/predict', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ text: 'a good film' }),
    });
    expect(after.status).toBe(200);
  });
});
