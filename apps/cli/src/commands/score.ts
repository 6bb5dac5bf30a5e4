import { existsSync } from 'node:fs';
import { batchServingOptions, loadBatchSettings, scoreLocalFile } from '@mlops/batch-score';
import { ServingModel } from '@mlops/inference';
import { createContext, fetchModel } from '../context.ts';
import { createOutput } from '../output.ts';

const PROGRESS_MS = 3000;

/** Scores a local JSONL, JSONL.gz or CSV file with the batch-score core: predictions, errors and a summary. */
export async function scoreCommand(
  input: string,
  output: string | undefined,
  flags: { version?: string; alias?: string; textField?: string | undefined; json: boolean },
): Promise<void> {
  const out = createOutput(flags.json);
  if (!existsSync(input)) throw new Error(`input file not found: ${input}`);
  // The batch-score function's own chunk and batch sizes (BATCH_* settings), so both score alike.
  const batch = loadBatchSettings();
  const { version, dir } = await fetchModel(createContext(), flags);
  const model = await ServingModel.load(dir, { version }, batchServingOptions(batch));
  try {
    out.info(`scoring ${input} with ${version}`);
    const started = performance.now();
    let lastReport = started;
    const summary = await scoreLocalFile(model, input, output, {
      chunkRows: batch.BATCH_CHUNK_ROWS,
      batchSize: batch.BATCH_MAX_BATCH,
      // The flag wins over the batch-score function's setting.
      textField: flags.textField ?? batch.BATCH_TEXT_FIELD,
      onProgress: (rows) => {
        const now = performance.now();
        if (now - lastReport < PROGRESS_MS) return;
        lastReport = now;
        out.info(`  ${rows.toLocaleString()} rows, ${Math.round(rows / ((now - started) / 1000))} rows/s`);
      },
    });
    out.result(
      [
        `${summary.rows} rows scored with ${summary.model_version} in ${summary.seconds.toFixed(1)}s (${summary.rows_per_second.toFixed(0)} rows/s) -> ${summary.output}`,
        summary.bad_rows > 0 ? `${summary.bad_rows} bad rows skipped, listed in ${summary.errors}` : 'no bad rows',
      ].join('\n'),
      { ok: true, ...summary },
    );
  } finally {
    await model.retire();
  }
}
