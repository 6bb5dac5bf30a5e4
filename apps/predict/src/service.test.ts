import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTinyModel } from '@mlops/inference/testing';
import { createRegistry } from '@mlops/registry';
import { openStore } from '@mlops/storage';
import { expect, it } from 'vitest';
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
