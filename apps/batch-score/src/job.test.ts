import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ModelWatcher, ServingModel } from '@mlops/inference';
import { createTinyModel } from '@mlops/inference/testing';
import { createRegistry } from '@mlops/registry';
import { openStore, type ObjectStore } from '@mlops/storage';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { watchInbox } from './inbox.ts';
import { NoModelError, scoreObject, type BatchContext } from './job.ts';
import { CSV, eventually, JSONL, JSONL_BAD, JSONL_GOOD_LINES, jsonLines } from './testing.ts';

describe('scoreObject', () => {
  let store: ObjectStore;
  let watcher: ModelWatcher;
  let ctx: BatchContext;
  const logs: { msg: string; reason?: string }[] = [];

  beforeAll(async () => {
    const root = await mkdtemp(join(tmpdir(), 'batch-job-'));
    store = openStore(join(root, 'store'));
    const registry = createRegistry(store);
    await registry.registerVersion(await createTinyModel(), { actor: 'test', reason: 'fixture' });
    const logger = pino({ level: 'info' }, { write: (line: string) => logs.push(JSON.parse(line)) });
    watcher = new ModelWatcher(registry, {
      alias: 'champion',
      cacheDir: join(root, 'cache'),
      pollMs: 3_600_000,
      serving: { threads: 1, maxBatchSize: 4, maxWaitMs: 0 },
      logger,
    });
    await watcher.start();
    ctx = { store, models: watcher, logger, inputPrefix: 'inbox/', outputPrefix: 'scored/', bucket: 'reviews', chunkRows: 2, batchSize: 2 };
  }, 60_000);
  afterAll(() => watcher.stop());

  it('reports a line longer than its cap as a bad row beside the predictions, and a CSV record longer as an unreadable file', async () => {
    const capped = { ...ctx, outputPrefix: 'capped/', maxLineBytes: 100 };
    await store.put('inbox/long.jsonl', `{"text":"a good film"}\n{"text":"${'x'.repeat(200)}"}\n{"text":"awful plot"}\n`);
    const outcome = await scoreObject(capped, { key: 'inbox/long.jsonl' });
    expect(outcome).toMatchObject({ status: 'scored', summary: { rows: 2, bad_rows: 1 } });
    expect(jsonLines((await store.get('capped/long.v1.errors.jsonl')).body.toString())).toEqual([{ line: 2, reason: 'line too long' }]);

    await store.put('inbox/long.csv', `id,text\n1,"${'x'.repeat(200)}"\n`);
    const failed = await scoreObject(capped, { key: 'inbox/long.csv' });
    expect(failed).toMatchObject({ status: 'failed', summary: { rows: 0, error: expect.stringMatching(/passes 100 bytes at line 2/) } });
  });

  it('scores an object: predictions, errors with line numbers, then the summary', async () => {
    const input = await store.put('inbox/2024/reviews.jsonl', JSONL);
    const progress: number[] = [];
    const outcome = await scoreObject(
      ctx,
      { key: 'inbox/2024/reviews.jsonl', bucket: 'reviews' },
      { onProgress: (rows) => progress.push(rows) },
    );
    expect(outcome).toMatchObject({
      status: 'scored',
      summary: {
        input: 'inbox/2024/reviews.jsonl',
        input_etag: input.etag,
        output: 'scored/2024/reviews.v1.predictions.jsonl',
        errors: 'scored/2024/reviews.v1.errors.jsonl',
        rows: 4,
        bad_rows: 3,
        model_version: 'v1',
      },
    });
    expect(progress).toEqual([2, 4, 4]);
    const predictions = jsonLines((await store.get('scored/2024/reviews.v1.predictions.jsonl')).body.toString());
    expect(predictions.map((p) => p.line)).toEqual(JSONL_GOOD_LINES);
    expect(jsonLines((await store.get('scored/2024/reviews.v1.errors.jsonl')).body.toString())).toEqual(JSONL_BAD);
    const summary = JSON.parse((await store.get('scored/2024/reviews.summary.json')).body.toString());
    expect(outcome).toEqual({ status: 'scored', summary });
    expect((await store.list('scored/')).map((o) => o.key)).toEqual([
      'scored/2024/reviews.summary.json',
      'scored/2024/reviews.v1.errors.jsonl',
      'scored/2024/reviews.v1.predictions.jsonl',
    ]);
  });

  it('does no work for a re-delivery at the same etag, and re-scores a changed object', async () => {
    await store.put('inbox/again.csv', CSV);
    const first = await scoreObject(ctx, { key: 'inbox/again.csv' });
    const predict = vi.spyOn(watcher.current()!, 'predict');
    const again = await scoreObject(ctx, { key: 'inbox/again.csv', bucket: 'reviews' });
    expect(again).toEqual({ ...first, status: 'already_scored' });
    expect(predict).not.toHaveBeenCalled();

    const updated = await store.put('inbox/again.csv', 'id,text\n1,a good film\n');
    const changed = await scoreObject(ctx, { key: 'inbox/again.csv' });
    expect(predict).toHaveBeenCalled();
    predict.mockRestore();
    expect(changed).toMatchObject({ status: 'scored', summary: { input_etag: updated.etag, rows: 1, bad_rows: 0, errors: null } });
    expect(await store.head('scored/again.v1.errors.jsonl')).toBeUndefined(); // the earlier run's errors are gone
  });

  it.each([
    ['outside the input prefix', 'elsewhere/a.jsonl', undefined, /outside the input prefix "inbox\/"/],
    ['our own output', 'scored/2024/reviews.v1.predictions.jsonl', undefined, /our own output/],
    ['another bucket', 'inbox/a.jsonl', 'other', /bucket "other" is not the configured "reviews"/],
    ['an unknown format', 'inbox/notes.txt', undefined, /not a \.jsonl/],
    ['an odd key', 'inbox/../registry/x.jsonl', undefined, /not a valid object key/],
    ['a deleted object', 'inbox/gone.jsonl', undefined, /does not exist/],
  ])('ignores %s with a logged reason', async (_name, key, bucket, reason) => {
    const outcome = await scoreObject(ctx, { key, ...(bucket ? { bucket } : {}) });
    expect(outcome).toEqual({ status: 'ignored', reason: expect.stringMatching(reason) });
    expect(logs.some((l) => l.msg === 'object ignored' && reason.test(l.reason ?? ''))).toBe(true);
  });

  it('records an unreadable file as failed once, so re-deliveries stop there', async () => {
    await store.put('inbox/broken.jsonl.gz', 'not gzip at all');
    const failed = await scoreObject(ctx, { key: 'inbox/broken.jsonl.gz' });
    expect(failed).toMatchObject({ status: 'failed', summary: { output: null, rows: 0, error: expect.stringMatching(/corrupt gzip/) } });
    expect(await scoreObject(ctx, { key: 'inbox/broken.jsonl.gz' })).toMatchObject({
      status: 'already_scored',
      summary: { error: expect.any(String) },
    });
  });

  it('throws NoModelError before a model is loaded', async () => {
    await store.put('inbox/early.jsonl', JSONL);
    await expect(scoreObject({ ...ctx, models: { current: () => undefined } }, { key: 'inbox/early.jsonl' })).rejects.toBeInstanceOf(
      NoModelError,
    );
  });

  it('starts over with the new model when the champion moves mid-file', async () => {
    const dir = await createTinyModel({ seed: 2 });
    const v1 = await ServingModel.load(dir, { version: 'v1' }, { threads: 1, maxBatchSize: 4, maxWaitMs: 0 });
    const v2 = await ServingModel.load(dir, { version: 'v2' }, { threads: 1, maxBatchSize: 4, maxWaitMs: 0 });
    let current = v1;
    // Three chunks: the next chunk starts before the one ahead of it is written, so the swap made
    // after the first chunk is seen when the third starts.
    await store.put('inbox/swap.jsonl', '{"text":"a good film"}\n'.repeat(6));
    const outcome = await scoreObject(
      { ...ctx, models: { current: () => current } },
      { key: 'inbox/swap.jsonl' },
      { onProgress: () => (current = v2) },
    );
    expect(outcome).toMatchObject({
      status: 'scored',
      summary: { model_version: 'v2', rows: 6, output: 'scored/swap.v2.predictions.jsonl' },
    });
    expect(jsonLines((await store.get('scored/swap.v2.predictions.jsonl')).body.toString())).toHaveLength(6);
    await Promise.all([v1.retire(), v2.retire()]);
  });

  it('watches the inbox: a dropped file is scored once, a changed one again', async () => {
    const inbox = watchInbox({ ...ctx, inputPrefix: 'drop/', outputPrefix: 'drop-scored/' }, { pollMs: 20 });
    try {
      await store.put('drop/day1.jsonl', JSONL);
      const summary = await eventually(
        async () =>
          (await store.head('drop-scored/day1.summary.json')) && (await store.get('drop-scored/day1.summary.json')).body.toString(),
      );
      await new Promise((r) => setTimeout(r, 100)); // several polls
      expect((await store.get('drop-scored/day1.summary.json')).body.toString()).toBe(summary);

      await store.put('drop/day1.jsonl', '{"text":"a good film"}');
      const rescored = await eventually(async () => {
        const text = (await store.get('drop-scored/day1.summary.json')).body.toString();
        return text === summary ? undefined : JSON.parse(text);
      });
      expect(rescored).toMatchObject({ rows: 1, bad_rows: 0 });
    } finally {
      await inbox.stop();
    }
    expect(jsonLines((await store.get('drop-scored/day1.v1.predictions.jsonl')).body.toString())).toHaveLength(1);
  });
});
