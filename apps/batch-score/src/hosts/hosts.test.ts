import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTinyModel } from '@mlops/inference/testing';
import { s3ObjectCreatedEvent } from '@mlops/platform/testing';
import { createRegistry } from '@mlops/registry';
import { openStore } from '@mlops/storage';
import { afterAll, expect, it, vi } from 'vitest';
import { JSONL } from '../testing.ts';

// The documented S3 notification for a key with a space, URL-encoded as S3 sends it.
const s3PutEvent = s3ObjectCreatedEvent('inbox/may/new+reviews.jsonl');

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
  expect(summary).toMatchObject({
    input: 'inbox/may/new reviews.jsonl',
    output: 'scored/may/new reviews.v1.predictions.jsonl',
    rows: 4,
    bad_rows: 3,
    model_version: 'v1',
  });
  const lines = (await store.get('scored/may/new reviews.v1.predictions.jsonl')).body.toString().trim().split('\n');
  expect(lines).toHaveLength(4);
});
