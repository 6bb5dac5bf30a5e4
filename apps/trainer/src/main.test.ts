import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { createTinyModel } from '@mlops/inference/testing';
import { generatedRatings, RATING_LABELS } from '@mlops/data/testing';
import { ConfigLabelsSchema } from '@mlops/monitoring';
import { createRegistry } from '@mlops/registry';
import { openStore } from '@mlops/storage';
import { expect, it } from 'vitest';
import { generatedReviews } from './fixtures.test-helpers.ts';

const MAIN = resolve(import.meta.dirname, 'main.ts');

/** The job entry as a launcher runs it: a child process, JSON lines out, settings from the environment. */
async function job(store: string, args: string[]) {
  const env = { ...process.env, MLOPS_STORE: store, MLOPS_CACHE_DIR: join(store, '..', 'cache') };
  const result = await promisify(execFile)(process.execPath, ['--import', 'tsx', MAIN, ...args], { env }).catch(
    (e: { stdout: string; code: number }) => e,
  );
  const lines = result.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  return { code: 'code' in result ? result.code : 0, last: lines.at(-1)! };
}

it('fine-tunes a registered version from training data in the store, and leaves its result for retrain-trigger', async () => {
  const storeDir = join(await mkdtemp(join(tmpdir(), 'trainer-main-')), 'store');
  const store = openStore(storeDir);
  const registry = createRegistry(store);
  await registry.registerVersion(await createTinyModel(), { actor: 'test', reason: 'fixture' });
  await store.put(
    'datasets/r-1/train.jsonl',
    generatedReviews(120)
      .map((r) => JSON.stringify(r))
      .join('\n'),
  );

  const ok = await job(storeDir, [
    '--data',
    'store:datasets/r-1/train.jsonl',
    '--eval',
    'none',
    '--base-version',
    'v1',
    '--run-id',
    'r-1',
    '--epochs',
    '1',
    '--reason',
    'test',
  ]);
  expect(ok.last.error).toBeUndefined();
  expect(ok.code).toBe(0);
  expect(ok.last).toMatchObject({ phase: 'result', ok: true, version: 'v2', champion: false });
  expect((await registry.getVersion('v2')).parent).toBe('v1');
  const result = JSON.parse((await store.get('runs/r-1/result.json')).body.toString());
  expect(result).toMatchObject({ run_id: 'r-1', ok: true, version: 'v2' });

  const missing = await job(storeDir, ['--data', 'store:datasets/none.jsonl', '--base-version', 'v1', '--run-id', 'r-2']);
  expect(missing.code).toBe(1);
  expect(missing.last).toMatchObject({ phase: 'result', ok: false, error: expect.stringMatching(/datasets\/none\.jsonl/) });
  expect(JSON.parse((await store.get('runs/r-2/result.json')).body.toString())).toMatchObject({ ok: false });
}, 120_000);

it('fine-tunes a version of four classes in their registered order, and refuses data with a class it does not know', async () => {
  const storeDir = join(await mkdtemp(join(tmpdir(), 'trainer-main-')), 'store');
  const store = openStore(storeDir);
  const registry = createRegistry(store);
  await registry.registerVersion(await createTinyModel({ labels: [...RATING_LABELS] }), { actor: 'test', reason: 'fixture' });
  const jsonl = (rows: object[]) => rows.map((r) => JSON.stringify(r)).join('\n');
  await store.put('datasets/r-1/train.jsonl', jsonl(generatedRatings(120)));
  await store.put('datasets/r-2/train.jsonl', jsonl([...generatedRatings(120), { text: 'so-so, really', label: 'meh' }]));
  const args = (run: string) => [
    '--data',
    `store:datasets/${run}/train.jsonl`,
    '--eval',
    'none',
    '--base-version',
    'v1',
    '--run-id',
    run,
    '--epochs',
    '1',
  ];

  const ok = await job(storeDir, args('r-1'));
  expect(ok.last).toMatchObject({ phase: 'result', ok: true, version: 'v2' });
  const config = await registry.readVersionJson('v2', 'config.json', ConfigLabelsSchema);
  expect(config).toEqual([...RATING_LABELS]); // not re-sorted: the head of v1 carries over

  const refused = await job(storeDir, args('r-2'));
  expect(refused.code).toBe(1);
  expect(refused.last).toMatchObject({
    ok: false,
    code: 'DATA_ERROR',
    error: expect.stringMatching(/^fine-tuning v1: .*label "meh" \(1 row\) not among the classes terrible, poor, good, excellent$/),
  });
  expect((await registry.listVersions()).map((v) => v.version)).toEqual(['v1', 'v2']);
}, 120_000);

it('refuses to fine-tune a version imported from ONNX, naming why, before downloading or training', async () => {
  const storeDir = join(await mkdtemp(join(tmpdir(), 'trainer-main-')), 'store');
  const store = openStore(storeDir);
  const onnxOnly = await createTinyModel();
  await rm(join(onnxOnly, 'pytorch_model.bin'));
  await createRegistry(store).registerVersion(onnxOnly, { actor: 'test', reason: 'imported' });
  await store.put('datasets/r-1/train.jsonl', JSON.stringify({ text: 'a good film', label: 'positive' }));

  const refused = await job(storeDir, ['--data', 'store:datasets/r-1/train.jsonl', '--base-version', 'v1', '--run-id', 'r-1']);
  expect(refused.code).toBe(1);
  expect(refused.last).toMatchObject({
    ok: false,
    code: 'NOT_FINE_TUNABLE',
    error: expect.stringMatching(/^Cannot fine-tune sentiment v1: it has no torch weights .*imported from ONNX/),
  });
  expect(JSON.parse((await store.get('runs/r-1/result.json')).body.toString())).toMatchObject({ ok: false, code: 'NOT_FINE_TUNABLE' });
}, 60_000);
