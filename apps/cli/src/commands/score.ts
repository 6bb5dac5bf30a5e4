import { existsSync } from 'node:fs';
import { scoreLocalFile } from '@mlops/batch-score';
import { ServingModel } from '@mlops/inference';
import { createContext } from '../context.ts';
import { createOutput } from '../output.ts';

const PROGRESS_MS = 3000;
const BATCH = { chunkRows: 256, batchSize: 32 };

/** Scores a local JSONL, JSONL.gz or CSV file with the batch-score core: predictions, errors and a summary. */
export async function scoreCommand(input: string, output: string | undefined, flags: { version?: string; alias?: string; json: boolean }): Promise<void> {
  const out = createOutput(flags.json);
  if (!existsSync(input)) throw new Error(`input file not found: ${input}`);
  const ctx = createContext();
  const info = await ctx.registry.resolve(flags.version || flags.alias ? flags : { alias: 'champion' });
  const dir = await ctx.registry.downloadVersion(info.version, ctx.settings.MLOPS_CACHE_DIR);
  const model = await ServingModel.load(dir, { version: info.version }, { maxBatchSize: BATCH.batchSize, maxWaitMs: 0 });
  try {
    out.info(`scoring ${input} with ${info.version}`);
    const started = performance.now();
    let lastReport = started;
    const summary = await scoreLocalFile(model, input, output, {
      ...BATCH,
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
