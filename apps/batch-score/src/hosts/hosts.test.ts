import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTinyModel } from '@mlops/inference/testing';
import { createRegistry } from '@mlops/registry';
import { openStore } from '@mlops/storage';
import { afterAll, expect, it, vi } from 'vitest';
import { JSONL } from '../testing.ts';

// S3 ObjectCreated:Put notification, the Lambda tutorial's test event
// (https://docs.aws.amazon.com/lambda/latest/dg/with-s3-example.html); changed: the object key,
// URL-encoded as S3 sends it.
const s3PutEvent = {
  Records: [
    {
      eventVersion: '2.0',
      eventSource: 'aws:s3',
      awsRegion: 'us-east-1',
      eventTime: '1970-01-01T00:00:00.000Z',
      eventName: 'ObjectCreated:Put',
      userIdentity: { principalId: 'EXAMPLE' },
      requestParameters: { sourceIPAddress: '127.0.0.1' },
      responseElements: { 'x-amz-request-id': 'EXAMPLE123456789', 'x-amz-id-2': 'EXAMPLE123/5678abcdefghijklambdaisawesome/mnopqrstuvwxyzABCDEFGH' },
      s3: {
        s3SchemaVersion: '1.0',
        configurationId: 'testConfigRule',
        bucket: { name: 'example-bucket', ownerIdentity: { principalId: 'EXAMPLE' }, arn: 'arn:aws:s3:::example-bucket' },
        object: { key: 'inbox/may/new+reviews.jsonl', size: 1024, eTag: '0123456789abcdef0123456789abcdef', sequencer: '0A1B2C3D4E5F678901' },
      },
    },
  ],
};

afterAll(() => {
  vi.unstubAllEnvs();
});

it('the Lambda entry loads the champion at init and scores the object an S3 notification names', async () => {
  const root = await mkdtemp(join(tmpdir(), 'batch-lambda-'));
  const store = openStore(join(root, 'store'));
  await createRegistry(store).registerVersion(await createTinyModel(), { actor: 'test', reason: 'fixture' });
  await store.put('inbox/may/new reviews.jsonl', JSONL);
  // The entry reads its settings at import time; no inbox watcher, so only the event can score the file.
  vi.stubEnv('MLOPS_STORE', join(root, 'store'));
  vi.stubEnv('MLOPS_CACHE_DIR', join(root, 'cache'));
  vi.stubEnv('BATCH_WATCH_SECONDS', '0');
  vi.stubEnv('BATCH_THREADS', '1');
  vi.stubEnv('LOG_LEVEL', 'silent');
  const { handler } = await import('./lambda.ts');

  expect(await handler(s3PutEvent)).toBeUndefined();
  const summary = JSON.parse((await store.get('scored/may/new reviews.summary.json')).body.toString()) as Record<string, unknown>;
  expect(summary).toMatchObject({ input: 'inbox/may/new reviews.jsonl', output: 'scored/may/new reviews.v1.predictions.jsonl', rows: 4, bad_rows: 3, model_version: 'v1' });
  const lines = (await store.get('scored/may/new reviews.v1.predictions.jsonl')).body.toString().trim().split('\n');
  expect(lines).toHaveLength(4);
});
