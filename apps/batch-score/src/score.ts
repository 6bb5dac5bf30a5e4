import { open, rename, rm, writeFile } from 'node:fs/promises';
import { readExamples, type DataInput, type DataReport, type Example } from '@mlops/data';
import type { Prediction, ServingModel } from '@mlops/inference';
import { jsonText } from '@mlops/storage';
import { z } from 'zod';

/** What scoring needs from a model (a ServingModel: its micro-batcher runs concurrent calls back to back). */
export type Scorer = Pick<ServingModel, 'predict' | 'metadata'>;

export interface ScoreOptions {
  /** Rows per chunk; two chunks are held at once (one scoring, the next being read), whatever the size of the file. */
  chunkRows: number;
  /** Texts per model call; a chunk goes out as several calls at once so the model never waits for the reader. */
  batchSize: number;
  /**
   * Called after every chunk. readExamples reports bad rows only once the file is read, so `bad`
   * stays 0 until the last call.
   */
  onProgress?: (rows: number, bad: number) => void;
  /** Checked before each chunk: false once a newer model replaced this one (its session is then released). */
  isCurrent?: () => boolean;
  /** The CSV column or JSON key holding the text; default "text". */
  textField?: string | undefined;
  /** The longest JSONL line (a bad row beyond, never held) or CSV record (fails the file beyond); default 1 MiB. */
  maxLineBytes?: number | undefined;
}

export interface ScoreCounts {
  rows: number;
  bad: number;
  /** The first 100 bad rows with their line numbers (readExamples keeps no more, whatever the file). */
  badRows: { line: number; reason: string }[];
  seconds: number;
}

/** The model was swapped out mid-file; the caller starts over with the new one. */
export class ModelReplacedError extends Error {
  readonly code = 'MODEL_REPLACED';
}

/** Written last: its presence marks a finished job. Read back from the store, so it has a schema. */
export const summarySchema = z.object({
  input: z.string(),
  /** The input's etag when it was read (GCS generation, S3 ETag, file store hash); null for local files. */
  input_etag: z.string().nullable(),
  output: z.string().nullable(),
  errors: z.string().nullable(),
  /** Rows scored (lines in `output`). */
  rows: z.number(),
  bad_rows: z.number(),
  seconds: z.number(),
  rows_per_second: z.number(),
  model_version: z.string(),
  finished: z.string(),
  /** Set when the file could not be read at all (corrupt gzip, broken CSV quoting, no rows). */
  error: z.string().optional(),
});
export type BatchSummary = z.infer<typeof summarySchema>;

const readOptions = (opts: ScoreOptions) =>
  ({
    ...(opts.textField && { textField: opts.textField }),
    ...(opts.maxLineBytes && { maxLineBytes: opts.maxLineBytes }),
    // No per-row hashes for duplicates or a fingerprint: the reader's memory stays flat whatever the rows.
    trackRows: false,
    requireLabel: false,
    // Bad rows are reported, never fatal.
    maxErrorRatio: 1,
    // Scoring needs only text and id: a label field no row has means a stray label never makes a row bad.
    labelField: '\u0000',
  }) as const;

const predictionLine = (e: Example, p: Prediction, version: string): string =>
  `${JSON.stringify({ id: e.id ?? null, line: e.line, label: p.label, score: p.score, probabilities: p.probabilities, model_version: version })}\n`;

export const errorLines = (badRows: ScoreCounts['badRows']): string => badRows.map((b) => `${JSON.stringify(b)}\n`).join('');

/**
 * Streams the rows of `input` (JSONL, JSONL.gz, CSV) through `model` a chunk at a time and writes
 * one prediction line per good row to the local file `predictionsPath`. Bad rows are skipped and
 * counted; they never stop the file. Throws DataError when the file cannot be read at all.
 */
export async function scoreToFile(model: Scorer, input: DataInput, predictionsPath: string, opts: ScoreOptions): Promise<ScoreCounts> {
  const started = performance.now();
  const version = model.metadata.version;
  const name = typeof input === 'string' ? input : input.name;
  const file = await open(predictionsPath, 'w');
  let rows = 0;
  /** Starts the chunk's predictions at once; they are written later, in order. */
  const predictChunk = (chunk: Example[]) => {
    // Checked in the same tick as predict() starts, so a swap cannot release the session in between.
    if (opts.isCurrent && !opts.isCurrent()) throw new ModelReplacedError(`model ${version} was replaced while scoring ${name}`);
    const calls: Promise<Prediction[]>[] = [];
    for (let i = 0; i < chunk.length; i += opts.batchSize) calls.push(model.predict(chunk.slice(i, i + opts.batchSize).map((e) => e.text)));
    const predictions = Promise.all(calls);
    // Awaited only after the chunk before it is written: a failure must not go unhandled meanwhile.
    predictions.catch(() => undefined);
    return { chunk, predictions };
  };
  const writeChunk = async ({ chunk, predictions }: ReturnType<typeof predictChunk>) => {
    const scored = (await predictions).flat();
    await file.write(chunk.map((e, i) => predictionLine(e, scored[i]!, version)).join(''));
    rows += chunk.length;
    opts.onProgress?.(rows, 0);
  };

  try {
    // yield* hands back the report at the end; for await closes the reader (and its stream) on an error.
    let report: DataReport | undefined;
    const examples = async function* () {
      report = yield* readExamples(input, readOptions(opts));
    };
    // One chunk ahead: while a chunk's passes run, the next one is read and tokenized.
    let running: ReturnType<typeof predictChunk> | undefined;
    let chunk: Example[] = [];
    for await (const example of examples()) {
      chunk.push(example);
      if (chunk.length === opts.chunkRows) {
        const next = predictChunk(chunk);
        if (running) await writeChunk(running);
        running = next;
        chunk = [];
      }
    }
    const last = chunk.length > 0 ? predictChunk(chunk) : undefined;
    if (running) await writeChunk(running);
    if (last) await writeChunk(last);
    const { bad, badRows } = report!;
    opts.onProgress?.(rows, bad);
    return { rows, bad, badRows, seconds: (performance.now() - started) / 1000 };
  } finally {
    await file.close();
  }
}

export function summarize(
  counts: ScoreCounts,
  where: { input: string; inputEtag: string | null; output: string | null; errors: string | null },
  version: string,
): BatchSummary {
  return {
    input: where.input,
    input_etag: where.inputEtag,
    output: where.output,
    errors: where.errors,
    rows: counts.rows,
    bad_rows: counts.bad,
    seconds: +counts.seconds.toFixed(3),
    rows_per_second: counts.seconds > 0 ? +(counts.rows / counts.seconds).toFixed(1) : 0,
    model_version: version,
    finished: new Date().toISOString(),
  };
}

/** Where `mlops score <input> [<output>]` writes: errors and summary beside the predictions. */
export function localOutputPaths(input: string, output?: string): { predictions: string; errors: string; summary: string } {
  const predictions = output ?? `${input}.predictions.jsonl`;
  const base = predictions.replace(/(\.predictions)?\.jsonl$/, '');
  return { predictions, errors: `${base}.errors.jsonl`, summary: `${base}.summary.json` };
}

/**
 * Scores a local file with the same core as store objects. The predictions appear complete or not
 * at all (written beside, then renamed); the summary is written last.
 */
export async function scoreLocalFile(model: Scorer, input: string, output: string | undefined, opts: ScoreOptions): Promise<BatchSummary> {
  const paths = localOutputPaths(input, output);
  if (paths.predictions === input) throw new Error(`the output would overwrite the input ${input}`);
  const tmp = `${paths.predictions}.${process.pid}.tmp`;
  try {
    const counts = await scoreToFile(model, input, tmp, opts);
    await rename(tmp, paths.predictions);
    // No bad rows: drop an errors file left by an earlier run, so the outputs describe this one.
    if (counts.bad > 0) await writeFile(paths.errors, errorLines(counts.badRows));
    else await rm(paths.errors, { force: true });
    const summary = summarize(
      counts,
      { input, inputEtag: null, output: paths.predictions, errors: counts.bad > 0 ? paths.errors : null },
      model.metadata.version,
    );
    await writeFile(paths.summary, jsonText(summary));
    return summary;
  } finally {
    await rm(tmp, { force: true });
  }
}
