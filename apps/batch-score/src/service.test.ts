import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTinyModel } from '@mlops/inference/testing';
import { createRegistry } from '@mlops/registry';
import { openStore } from '@mlops/storage';
import { expect, it } from 'vitest';
import { createBatchScoreService } from './service.ts';
import { eventually, JSONL } from './testing.ts';

it('wires batch-score from the environment: a file dropped in the local inbox is scored', async () => {
  const root = await mkdtemp(join(tmpdir(), 'batch-service-'));
  const storeDir = join(root, 'store');
  await createRegistry(openStore(storeDir)).registerVersion(await createTinyModel(), { actor: 'test', reason: 'fixture' });
  const service = createBatchScoreService({
    MLOPS_STORE: storeDir,
    MLOPS_CACHE_DIR: join(root, 'cache'),
    BATCH_WATCH_SECONDS: '0.05',
    BATCH_THREADS: '1',
    LOG_LEVEL: 'silent',
  });
  await service.start();
  try {
    // Dropped by hand, as a user would: no store API involved.
    await mkdir(join(storeDir, 'inbox', 'may'), { recursive: true });
    await writeFile(join(storeDir, 'inbox', 'may', 'reviews.jsonl'), JSONL);
    const summaryPath = join(storeDir, 'scored', 'may', 'reviews.summary.json');
    const summary = await eventually(() => readFile(summaryPath, 'utf8').then(JSON.parse, () => undefined));
    expect(summary).toMatchObject({
      input: 'inbox/may/reviews.jsonl',
      output: 'scored/may/reviews.v1.predictions.jsonl',
      rows: 4,
      bad_rows: 3,
      model_version: 'v1',
    });

    // The Lambda adapter's path: S3 notifications with keys already decoded.
    const [outcome] = await service.handleS3Event({
      Records: [{ eventName: 'ObjectCreated:Put', s3: { bucket: { name: 'any' }, object: { key: 'inbox/may/reviews.jsonl' } } }],
    });
    expect(outcome).toEqual({ status: 'already_scored', summary });
  } finally {
    await service.stop();
  }
});

it.each([
  ['an empty output prefix', { BATCH_OUTPUT_PREFIX: '' }, /BATCH_OUTPUT_PREFIX/],
  ['a prefix without a trailing slash', { BATCH_INPUT_PREFIX: 'inbox' }, /BATCH_INPUT_PREFIX/],
  ['inputs inside the output prefix', { BATCH_INPUT_PREFIX: 'scored/in/' }, /BATCH_OUTPUT_PREFIX/],
  ['a bad chunk size', { BATCH_CHUNK_ROWS: 'lots' }, /BATCH_CHUNK_ROWS/],
])('rejects %s with the variable named', (_name, env, message) => {
  expect(() => createBatchScoreService({ LOG_LEVEL: 'silent', ...env })).toThrow(message);
});
