import { createReadStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type { Prediction } from '@mlops/inference';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scoreToFile, type Scorer } from './score.ts';

const MiB = 1024 * 1024;
/** Rows scored (5M took ~25 s, ~197 000 rows/s, on 2 cores); BATCH_MEMORY_TEST_ROWS sets another count. */
const ROWS = Number(process.env['BATCH_MEMORY_TEST_ROWS'] ?? 5_000_000);

/** A model that is not what is measured: every text gets the same prediction. */
const FIXED: Prediction = {
  label: 'positive',
  score: 0.75,
  probabilities: { negative: 0.25, positive: 0.75 },
  tokens: 8,
  unknownTokens: 0,
};
const stub: Scorer = {
  predict: (texts: string[]) => Promise.resolve(texts.map(() => FIXED)),
  metadata: { version: 'stub' } as Scorer['metadata'],
};

/** `rows` JSONL rows (one in 100 000 bad: no text) generated as they are read, never whole in memory or on disk. */
function generatedRows(rows: number, sample: () => void): Readable {
  return Readable.from(
    (function* () {
      const perChunk = 1000;
      for (let first = 1; first <= rows; first += perChunk) {
        sample();
        let text = '';
        for (let i = first; i < first + perChunk && i <= rows; i++)
          text += i % 100_000 === 50_000 ? `{"id":"r${i}"}\n` : `{"id":"r${i}","text":"row ${i} of a large file to score"}\n`;
        yield Buffer.from(text);
      }
    })(),
  );
}

/** Lines of a file, counted as it streams; the first and last kept. */
async function countLines(path: string): Promise<{ lines: number; first: string; last: string }> {
  let lines = 0;
  let first = '';
  let tail = '';
  for await (const chunk of createReadStream(path) as AsyncIterable<Buffer>) {
    for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) lines++;
    if (!first) first = chunk.subarray(0, chunk.indexOf(10)).toString();
    tail = (tail + chunk.toString()).slice(-1000);
  }
  return { lines, first, last: tail.trimEnd().split('\n').at(-1)! };
}

describe('scoring a large file', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'batch-score-memory-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it(`scores ${ROWS} rows in flat memory: two chunks at a time, counts and the first bad rows kept`, { timeout: 600_000 }, async () => {
    const before = process.memoryUsage().rss;
    let peak = before;
    const sample = () => {
      peak = Math.max(peak, process.memoryUsage().rss);
    };
    const output = join(dir, 'large.predictions.jsonl');
    const started = performance.now();
    const counts = await scoreToFile(stub, { stream: generatedRows(ROWS, sample), name: 'large.jsonl' }, output, {
      chunkRows: 256,
      batchSize: 256,
      onProgress: sample,
    });
    const seconds = (performance.now() - started) / 1000;
    sample();
    const growth = peak - before;
    console.log(
      `${ROWS} rows: ${seconds.toFixed(1)} s (${Math.round(ROWS / seconds)} rows/s), peak RSS growth ${(growth / MiB).toFixed(1)} MiB`,
    );

    const badRows = Math.floor((ROWS + 50_000) / 100_000);
    expect(counts).toMatchObject({ rows: ROWS - badRows, bad: badRows });
    expect(counts.badRows.length).toBe(Math.min(badRows, 100));
    expect(counts.badRows[0]).toEqual({ line: 50_000, reason: 'missing text' });
    const written = await countLines(output);
    expect(written.lines).toBe(ROWS - badRows);
    expect(JSON.parse(written.first)).toMatchObject({ id: 'r1', line: 1, label: 'positive', model_version: 'stub' });
    expect(JSON.parse(written.last)).toMatchObject({ id: `r${ROWS}`, line: ROWS });
    await rm(output);
    expect(growth).toBeLessThan(150 * MiB);
  });
});
