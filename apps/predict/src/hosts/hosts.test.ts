import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTinyModel } from '@mlops/inference/testing';
import { httpApiV2Request } from '@mlops/platform/testing';
import { createRegistry } from '@mlops/registry';
import { openStore } from '@mlops/storage';
import { afterAll, expect, it, vi } from 'vitest';

// The documented HTTP API event, carrying one predict request.
const httpV2Event = httpApiV2Request(
  'POST',
  '/v1/predict',
  { 'content-type': 'application/json' },
  JSON.stringify({ texts: ['a good film', 'awful plot'] }),
);

afterAll(() => {
  vi.unstubAllEnvs();
});

it('the Lambda entry loads the champion at init, answers an API Gateway v2 predict request and has logged it before answering', async () => {
  const root = await mkdtemp(join(tmpdir(), 'predict-lambda-'));
  const store = openStore(join(root, 'store'));
  await createRegistry(store).registerVersion(await createTinyModel(), { actor: 'test', reason: 'fixture' });
  // The entry reads its settings at import time.
  vi.stubEnv('MLOPS_STORE', join(root, 'store'));
  vi.stubEnv('MLOPS_CACHE_DIR', join(root, 'cache'));
  vi.stubEnv('PREDICT_LOG_SAMPLE_RATE', '1');
  vi.stubEnv('PREDICT_LOG_FLUSH_SECONDS', '3600'); // a frozen instance's timer: never
  vi.stubEnv('PREDICT_THREADS', '1');
  vi.stubEnv('LOG_LEVEL', 'silent');
  const { handler, lambdaServingDefaults } = await import('./lambda.ts');
  // One request per instance: the session on the event loop unless the environment says otherwise.
  expect(lambdaServingDefaults({})).toMatchObject({ PREDICT_SESSIONS: '0', PREDICT_THREADS: expect.stringMatching(/^[1-9]/) });
  expect(lambdaServingDefaults({ PREDICT_SESSIONS: '2', PREDICT_THREADS: '1' })).toMatchObject({
    PREDICT_SESSIONS: '2',
    PREDICT_THREADS: '1',
  });

  const result = await handler(httpV2Event);
  expect(result?.statusCode).toBe(200);
  expect(result?.headers?.['content-type']).toMatch(/^application\/json/);
  const body = JSON.parse(result?.body ?? '') as { model_version: string; predictions: { label: string; score: number }[] };
  expect(body.model_version).toBe('v1');
  expect(body.predictions).toHaveLength(2);
  for (const p of body.predictions) {
    expect(['negative', 'positive']).toContain(p.label);
    expect(p.score).toBeGreaterThanOrEqual(0.5);
  }

  const logged = await store.list('logs/predictions/');
  expect(logged).toHaveLength(1);
  expect((await store.get(logged[0]!.key)).body.toString('utf8').trim().split('\n')).toHaveLength(2);

  const bad = await handler({ ...httpV2Event, body: '{"text": ""}' });
  expect(bad?.statusCode).toBe(400);
});
