/** scoreLocalFile on IMDB unsup (or its first --rows rows), with the model built as the batch-score service builds it. */
import { createReadStream } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { createGunzip, gzipSync } from 'node:zlib';
import { batchServingOptions, loadBatchSettings, scoreLocalFile } from '@mlops/batch-score';
import { ServingModel } from '@mlops/inference';
import type { Measurement } from '../measurement.ts';

export interface BatchScore {
  rows: number;
  rowsPerSecond: number;
  seconds: number;
  badRows: number;
  batchSize: number;
}

/** The first `n` rows of a .jsonl.gz as a .jsonl.gz of their own, so the scored file has the same format. */
async function firstRows(path: string, n: number, dir: string): Promise<string> {
  const stream = createReadStream(path);
  const lines: string[] = [];
  try {
    for await (const line of createInterface({ input: stream.pipe(createGunzip()), crlfDelay: Infinity })) {
      if (line.trim() === '') continue;
      lines.push(line);
      if (lines.length === n) break;
    }
  } finally {
    stream.destroy();
  }
  const out = join(dir, `unsup-first-${n}.jsonl.gz`);
  await writeFile(out, gzipSync(`${lines.join('\n')}\n`));
  return out;
}

export const batchScoreMeasurement: Measurement<BatchScore> = {
  name: 'batch-score',
  async run({ settings, rowCap, work, modelDir, version, progress }) {
    const batchSettings = loadBatchSettings();
    const unsup = join(settings.MLOPS_DATA_DIR, 'imdb', 'unsup.jsonl.gz');
    const input = rowCap ? await firstRows(unsup, rowCap, work) : unsup;
    progress(
      `batch-score ${rowCap ? `${rowCap} rows of ` : ''}${unsup} (batch ${batchSettings.BATCH_MAX_BATCH}, chunks of ${batchSettings.BATCH_CHUNK_ROWS})`,
    );
    // Built like the batch-score service builds its model: no batching wait, full batches from the chunks.
    const scorer = await ServingModel.load(modelDir, { version }, batchServingOptions(batchSettings));
    let reported = 0;
    try {
      const summary = await scoreLocalFile(scorer, input, join(work, 'unsup.predictions.jsonl'), {
        chunkRows: batchSettings.BATCH_CHUNK_ROWS,
        batchSize: batchSettings.BATCH_MAX_BATCH,
        onProgress: (rows) => {
          if (rows - reported >= 5_000) {
            reported = rows;
            progress(`  ${rows} rows scored`);
          }
        },
      });
      return {
        rows: summary.rows,
        rowsPerSecond: summary.rows_per_second,
        seconds: summary.seconds,
        badRows: summary.bad_rows,
        batchSize: batchSettings.BATCH_MAX_BATCH,
      };
    } finally {
      await scorer.retire();
    }
  },
  report(score) {
    return {
      rows: [
        {
          name: `batch-score, ${score.rows} unsup rows`,
          textsPerSecond: score.rowsPerSecond,
          note: `scoreLocalFile, batch ${score.batchSize}, ${score.seconds.toFixed(1)} s, ${score.badRows} bad rows`,
        },
      ],
    };
  },
};
