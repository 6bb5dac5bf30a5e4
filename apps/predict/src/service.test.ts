import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTinyModel } from '@mlops/inference/testing';
import { createRegistry } from '@mlops/registry';
import { openStore } from '@mlops/storage';
import { describe, expect, it } from 'vitest';
import { createPredictService } from './service.ts';

it('wires predict from the environment and flushes the prediction log on stop', async () => {
  const root = await mkdtemp(join(tmpdir(), 'predict-service-'));
  const store = openStore(join(root, 'store'));
  await createRegistry(store).registerVersion(await createTinyModel(), { actor: 'test', reason: 'fixture' });
  const service = createPredictService({
    MLOPS_STORE: join(root, 'store'),
    MLOPS_CACHE_DIR: join(root, 'cache'),
    PREDICT_LOG_FLUSH_SECONDS: '3600',
    PREDICT_LOG_TEXT: 'true',
    LOG_LEVEL: 'silent',
  });
  await service.start();
  const res = await service.app.request('/v1/predict', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ text: 'a good film' }),
  });
  expect(res.status).toBe(200);
  const { predictions } = (await res.json()) as { predictions: { id: string }[] };
  expect(await store.list('logs/predictions/')).toEqual([]); // buffered, not yet written
  await service.stop();
  const [object] = await store.list('logs/predictions/');
  const logged = JSON.parse((await store.get(object!.key)).body.toString());
  expect(logged).toMatchObject({ prediction_id: predictions[0]!.id, model_version: 'v1', text: 'a good film' });
});

it('rejects invalid settings with the variable named', () => {
  expect(() => createPredictService({ PREDICT_MAX_TEXTS: 'many' })).toThrow(/PREDICT_MAX_TEXTS/);
});

describe('who may call predict', () => {
  const env = async (extra: Record<string, string>) => {
    const root = await mkdtemp(join(tmpdir(), 'predict-auth-'));
    return {
      MLOPS_STORE: join(root, 'store'),
      MLOPS_CACHE_DIR: join(root, 'cache'),
      PREDICT_LOG_SAMPLE_RATE: '0',
      LOG_LEVEL: 'silent',
      ...extra,
    };
  };
  const post = (service: ReturnType<typeof createPredictService>, path: string, body: unknown, headers: Record<string, string> = {}) =>
    service.app.request(path, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  const infer = { inputs: [{ name: 'text', shape: [1], datatype: 'BYTES', data: ['a good film'] }] };
  const label = { prediction_id: 'p1', label: 'positive' };

  it('guards feedback with the configured key while predictions stay public', async () => {
    const service = createPredictService(await env({ MLOPS_API_KEY: 'k' }));
    try {
      const denied = await post(service, '/v1/feedback', label);
      expect(denied.status).toBe(401);
      expect(await denied.json()).toMatchObject({ error: expect.stringMatching(/^missing API key/) });
      expect((await post(service, '/v1/feedback', label, { authorization: 'Bearer wrong' })).status).toBe(401);
      // Past the guard; no model is loaded in this test, so 503 is the app's own answer.
      expect((await post(service, '/v1/feedback', label, { authorization: 'Bearer k' })).status).toBe(503);
      expect((await post(service, '/v1/predict', { text: 'a good film' })).status).toBe(503);
      expect((await post(service, '/v2/models/sentiment/infer', infer)).status).toBe(503);
    } finally {
      await service.stop();
    }
  });

  it('guards predict and v2 infer too with PREDICT_REQUIRE_AUTH=true', async () => {
    const service = createPredictService(await env({ MLOPS_API_KEY: 'k', PREDICT_REQUIRE_AUTH: 'true' }));
    try {
      expect((await post(service, '/v1/predict', { text: 'a good film' })).status).toBe(401);
      expect((await post(service, '/v2/models/sentiment/infer', infer)).status).toBe(401);
      expect((await post(service, '/v1/predict', { text: 'a good film' }, { 'x-api-key': 'k' })).status).toBe(503);
      expect((await post(service, '/v2/models/sentiment/infer', infer, { authorization: 'Bearer k' })).status).toBe(503);
      expect((await service.app.request('/healthz')).status).toBe(200);
    } finally {
      await service.stop();
    }
  });

  it('refuses to start when auth is required but nothing can check it', async () => {
    expect(() => createPredictService({ PREDICT_REQUIRE_AUTH: 'true' })).toThrow(
      /PREDICT_REQUIRE_AUTH is true but neither MLOPS_API_KEY nor MLOPS_OIDC_AUDIENCES is set/,
    );
  });
});
