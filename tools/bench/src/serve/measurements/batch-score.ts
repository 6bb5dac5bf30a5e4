/**
 * `mlops score` on IMDB unsup (or its first --rows rows) in a process of its own: the batch-score
 * function's core with its settings and default sessions, and that process's peak resident memory.
 */
import { createReadStream } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { createGunzip, gzipSync } from 'node:zlib';
import { loadBatchSettings } from '@mlops/batch-score';
import { REPO_ROOT } from '@mlops/config';
import { z } from 'zod';
import type { Measurement } from '../measurement.ts';
import { startNode, watchMemory } from '../processes.ts';

export interface BatchScore {
  rows: number;
  rowsPerSecond: number;
  seconds: number;
  badRows: number;
  batchSize: number;
  /** The scoring process's peak resident set, MiB (model load included). */
  peakMiB: number | undefined;
}

/** The parts of `mlops score --json`'s summary read here. */
const scoreSummarySchema = z.object({ rows: z.number(), rows_per_second: z.number(), seconds: z.number(), bad_rows: z.number() });

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
  async run({ settings, rowCap, work, version, childEnv, progress }) {
    const batchSettings = loadBatchSettings();
    const unsup = join(settings.MLOPS_DATA_DIR, 'imdb', 'unsup.jsonl.gz');
    const input = rowCap ? await firstRows(unsup, rowCap, work) : unsup;
    progress(
      `mlops score ${rowCap ? `${rowCap} rows of ` : ''}${unsup} (batch ${batchSettings.BATCH_MAX_BATCH}, chunks of ${batchSettings.BATCH_CHUNK_ROWS})`,
    );
    const child = startNode(
      [join(REPO_ROOT, 'apps/cli/bin/mlops.js'), 'score', input, join(work, 'unsup.predictions.jsonl'), '--version', version, '--json'],
      childEnv,
    );
    const peak = watchMemory(child);
    let stdout = '';
    child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    if (code !== 0) throw new Error(`mlops score exited with ${code}`);
    const summary = scoreSummarySchema.parse(JSON.parse(stdout));
    return {
      rows: summary.rows,
      rowsPerSecond: summary.rows_per_second,
      seconds: summary.seconds,
      badRows: summary.bad_rows,
      batchSize: batchSettings.BATCH_MAX_BATCH,
      peakMiB: peak()?.peakMiB,
    };
  },
  report(score) {
    return {
      rows: [
        {
          name: `batch-score, ${score.rows} unsup rows`,
          textsPerSecond: score.rowsPerSecond,
          note:
            `mlops score, batch ${score.batchSize}, ${score.seconds.toFixed(1)} s, ${score.badRows} bad rows; ` +
            `peak RSS ${score.peakMiB === undefined ? '—' : `${score.peakMiB.toFixed(0)} MiB`}`,
        },
      ],
    };
  },
};
