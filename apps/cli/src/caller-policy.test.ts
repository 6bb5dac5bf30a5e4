import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createBatchScoreService } from '@mlops/batch-score';
import { createEvaluateService } from '@mlops/evaluate';
import { createPredictService } from '@mlops/predict';
import { createPromoteService } from '@mlops/promote';
import { createRetrainService } from '@mlops/retrain-trigger';
import type { Hono } from 'hono';
import { describe, expect, it } from 'vitest';

type Service = (env: NodeJS.ProcessEnv) => { app: Pick<Hono, 'request'> };

/** Each function and one of its state-changing routes. */
const FUNCTIONS: [string, Service, string][] = [
  ['predict', createPredictService, '/v1/feedback'],
  ['batch-score', createBatchScoreService, '/s3'],
  ['evaluate', createEvaluateService, '/v1/evaluate'],
  ['retrain-trigger', createRetrainService, '/v1/trigger'],
  ['promote', createPromoteService, '/v1/rollback'],
];

const root = await mkdtemp(join(tmpdir(), 'caller-policy-'));
// Nothing is read from the bucket: building a service opens no connection.
const cloud = { MLOPS_STORE: 's3://no-such-bucket/m', MLOPS_CACHE_DIR: join(root, 'cache'), AWS_REGION: 'eu-west-1', LOG_LEVEL: 'silent' };

describe.each(FUNCTIONS)('%s', (_name, create, route) => {
  it('refuses to start open on a cloud store', () => {
    expect(() => create(cloud)).toThrow(
      /would accept any caller: neither MLOPS_API_KEY nor MLOPS_OIDC_AUDIENCES is set and the store \(s3:\/\/\)/,
    );
  });

  it('starts open on a cloud store when MLOPS_ALLOW_OPEN says so, and on a local folder', () => {
    expect(() => create({ ...cloud, MLOPS_ALLOW_OPEN: 'true' })).not.toThrow();
    expect(() => create({ ...cloud, MLOPS_STORE: join(root, 'store') })).not.toThrow();
  });

  it(`starts with a key on a cloud store, and ${route} asks for it`, async () => {
    const { app } = create({ ...cloud, MLOPS_API_KEY: 'k' });
    const res = await app.request(route, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({ error: expect.stringMatching(/^missing API key/) });
  });
});
