import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ServingModel } from '@mlops/inference';
import { RATING_LABELS } from '@mlops/data/testing';
import { createTinyModel } from '@mlops/inference/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { localOutputPaths, ModelReplacedError, scoreLocalFile, scoreToFile, summarySchema, type Scorer } from './score.ts';
import { CSV_BAD, CSV_GOOD_LINES, JSONL_BAD, JSONL_GOOD_LINES, jsonLines, writeInputs } from './testing.ts';

describe('scoring a local file', () => {
  let model: ServingModel;
  let inputs: Awaited<ReturnType<typeof writeInputs>>;
  // Two rows per chunk, one text per call: every file spans several chunks and calls.
  const opts = { chunkRows: 2, batchSize: 1 };

  beforeAll(async () => {
    model = await ServingModel.load(await createTinyModel(), { version: 'v1' }, { threads: 1, maxBatchSize: 8, maxWaitMs: 0 });
    inputs = await writeInputs(await mkdtemp(join(tmpdir(), 'batch-score-')));
  }, 60_000);
  afterAll(() => model.retire());

  it.each([
    ['JSONL', 'jsonl', JSONL_GOOD_LINES, JSONL_BAD],
    ['JSONL.gz', 'gz', JSONL_GOOD_LINES, JSONL_BAD],
    ['CSV', 'csv', CSV_GOOD_LINES, CSV_BAD],
  ] as const)('scores %s: a prediction per good row, bad rows with line numbers, summary last', async (_name, which, goodLines, bad) => {
    const progress: [number, number][] = [];
    const summary = await scoreLocalFile(model, inputs[which], undefined, { ...opts, onProgress: (rows, b) => progress.push([rows, b]) });
    const paths = localOutputPaths(inputs[which]);
    expect(summary).toMatchObject({
      input: inputs[which],
      input_etag: null,
      output: `${inputs[which]}.predictions.jsonl`,
      errors: paths.errors,
      rows: goodLines.length,
      bad_rows: bad.length,
      model_version: 'v1',
    });
    expect(summarySchema.parse(JSON.parse(await readFile(paths.summary, 'utf8')))).toEqual(summary);

    const predictions = jsonLines(await readFile(paths.predictions, 'utf8'));
    expect(predictions.map((p) => p.line)).toEqual(goodLines);
    for (const p of predictions) {
      expect(Object.keys(p)).toEqual(['id', 'line', 'label', 'score', 'probabilities', 'model_version']);
      expect(p.model_version).toBe('v1');
      expect(p.score).toBe((p.probabilities as Record<string, number>)[p.label as string]);
    }
    expect(jsonLines(await readFile(paths.errors, 'utf8'))).toEqual(bad);
    expect(progress.at(-1)).toEqual([goodLines.length, bad.length]);
    expect(progress.length).toBeGreaterThan(1);
  });

  it('keeps ids (or null), and the same text scores the same in any chunk', async () => {
    await scoreLocalFile(model, inputs.jsonl, undefined, opts);
    const [a, , noId, seven] = jsonLines(await readFile(`${inputs.jsonl}.predictions.jsonl`, 'utf8'));
    expect([a!.id, noId!.id, seven!.id]).toEqual(['a', null, '7']);
    const [alone] = await model.predict(['a good film']);
    expect(a!.probabilities).toEqual(alone!.probabilities);
  });

  it('writes to a named output, errors and summary beside it, and drops a stale errors file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'batch-score-out-'));
    const clean = join(dir, 'clean.jsonl');
    await writeFile(clean, '{"text":"a good film"}\n{"text":"awful plot"}\n');
    const output = join(dir, 'out.predictions.jsonl');
    await writeFile(join(dir, 'out.errors.jsonl'), 'stale\n');
    const summary = await scoreLocalFile(model, clean, output, opts);
    expect(summary).toMatchObject({ output, errors: null, rows: 2, bad_rows: 0 });
    expect(localOutputPaths(clean, output)).toEqual({
      predictions: output,
      errors: join(dir, 'out.errors.jsonl'),
      summary: join(dir, 'out.summary.json'),
    });
    await expect(readFile(join(dir, 'out.errors.jsonl'))).rejects.toThrow(/ENOENT/);
    expect(JSON.parse(await readFile(join(dir, 'out.summary.json'), 'utf8'))).toEqual(summary);
    await expect(scoreLocalFile(model, clean, clean, opts)).rejects.toThrow(/overwrite the input/);
  });

  it('stops when the model is replaced mid-file', async () => {
    let chunks = 0;
    const run = scoreToFile(model, inputs.jsonl, join(tmpdir(), `replaced-${process.pid}.jsonl`), {
      ...opts,
      isCurrent: () => chunks++ === 0,
    });
    await expect(run).rejects.toBeInstanceOf(ModelReplacedError);
  });

  it('reads and starts the next chunk while one is scoring, and writes in order', async () => {
    // A scorer whose calls finish in reverse order of arrival, for the rows of two chunks at a time.
    let running = 0;
    let most = 0;
    const scorer: Scorer = {
      metadata: { version: 'v1' },
      predict: async (texts) => {
        most = Math.max(most, ++running);
        await new Promise((resolve) => setTimeout(resolve, texts[0] === 'a good film' ? 30 : 5));
        running--;
        return texts.map(() => ({ label: 'pos', score: 1, probabilities: { pos: 1 }, tokens: 1, unknownTokens: 0 }));
      },
    };
    const out = join(tmpdir(), `pipelined-${process.pid}.jsonl`);
    const counts = await scoreToFile(scorer, inputs.jsonl, out, opts);
    expect(most).toBe(2 * opts.chunkRows);
    expect(jsonLines(await readFile(out, 'utf8')).map((p) => p.line)).toEqual(JSONL_GOOD_LINES);
    expect(counts.rows).toBe(JSONL_GOOD_LINES.length);
  });

  it('fails with the first error when a chunk fails while the one before it is still scoring', async () => {
    let calls = 0;
    const scorer: Scorer = {
      metadata: { version: 'v1' },
      predict: async (texts) => {
        // The second chunk's first call fails at once; the first chunk's are slow.
        if (++calls === opts.chunkRows + 1) throw new Error('session lost');
        await new Promise((resolve) => setTimeout(resolve, 20));
        return texts.map(() => ({ label: 'pos', score: 1, probabilities: { pos: 1 }, tokens: 1, unknownTokens: 0 }));
      },
    };
    await expect(scoreToFile(scorer, inputs.jsonl, join(tmpdir(), `failed-${process.pid}.jsonl`), opts)).rejects.toThrow('session lost');
  });
});

describe('scoring with a model of four classes and a text column of another name', () => {
  let model: ServingModel;
  beforeAll(async () => {
    const dir = await createTinyModel({ labels: [...RATING_LABELS] });
    model = await ServingModel.load(dir, { version: 'v1' }, { threads: 1, sessions: 0, maxBatchSize: 8, maxWaitMs: 0 });
  }, 60_000);
  afterAll(() => model.retire());

  it('reads the text from textField and writes the probabilities of every class', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'batch-score-fields-'));
    const input = join(dir, 'reviews.csv');
    await writeFile(input, 'review,stars_bin\n"a good film",good\n"awful plot",terrible\n');
    const summary = await scoreLocalFile(model, input, undefined, { chunkRows: 2, batchSize: 2, textField: 'review' });
    expect(summary).toMatchObject({ rows: 2, bad_rows: 0 });
    const predictions = jsonLines(await readFile(summary.output!, 'utf8'));
    for (const p of predictions) {
      expect(Object.keys(p.probabilities as object)).toEqual([...RATING_LABELS]);
      expect(RATING_LABELS).toContain(p.label);
    }
    // Without the setting the default "text" column is missing, and the error names the columns there are.
    await expect(scoreLocalFile(model, input, undefined, { chunkRows: 2, batchSize: 2 })).rejects.toThrow(
      'CSV header has no "text" column (columns: review, stars_bin)',
    );
  });
});
