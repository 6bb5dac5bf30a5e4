import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataError } from '@mlops/data';
import type { ModelSource, ServingModel } from '@mlops/inference';
import { NotFoundError, putJson, type ObjectInfo, type ObjectStore } from '@mlops/storage';
import type { Logger } from 'pino';
import {
  errorLines,
  ModelReplacedError,
  scoreToFile,
  summarize,
  summarySchema,
  type BatchSummary,
  type ScoreCounts,
  type ScoreOptions,
} from './score.ts';

export interface BatchContext {
  store: ObjectStore;
  models: ModelSource;
  logger: Logger;
  inputPrefix: string;
  outputPrefix: string;
  /** When set, events naming another bucket are ignored. */
  bucket?: string;
  chunkRows: number;
  batchSize: number;
  /** The CSV column or JSON key of the text; default "text". */
  textField?: string;
  /** The longest JSONL line or CSV record read, in bytes; default 1 MiB (see ScoreOptions). */
  maxLineBytes?: number;
  /** Where predictions are written before upload; default: the OS temp folder. */
  tmpDir?: string;
}

export type ScoreOutcome =
  { status: 'ignored'; reason: string } | { status: 'scored' | 'already_scored' | 'failed'; summary: BatchSummary };

/** No model is loaded yet: the event should be retried later. */
export class NoModelError extends Error {
  readonly code = 'NO_MODEL';
}

const INPUT_FORMAT = /\.(jsonl|csv)(\.gz)?$/i;
// A swap mid-file restarts it; a registry flapping faster than a file scores should not loop forever.
const MAX_ATTEMPTS = 3;

/**
 * Scores one object of the store: predictions, errors (if any) and then the summary under the
 * output prefix. A summary already recording the object's current etag means the work is done,
 * so a re-delivered event costs one head and one small read.
 */
export async function scoreObject(
  ctx: BatchContext,
  ref: { key: string; bucket?: string },
  opts: Pick<ScoreOptions, 'onProgress'> = {},
): Promise<ScoreOutcome> {
  const log = ctx.logger.child({ key: ref.key, ...(ref.bucket ? { bucket: ref.bucket } : {}) });
  const ignore = (reason: string): ScoreOutcome => {
    log.info({ reason }, 'object ignored');
    return { status: 'ignored', reason };
  };
  const reason = ignoreReason(ctx, ref);
  if (reason) return ignore(reason);
  const input = await ctx.store.head(ref.key);
  if (!input) return ignore('the object does not exist (deleted since the event?)');

  const base = ctx.outputPrefix + ref.key.slice(ctx.inputPrefix.length).replace(INPUT_FORMAT, '');
  const summaryKey = `${base}.summary.json`;
  const previous = await readSummary(ctx.store, summaryKey);
  if (previous?.input_etag === input.etag) {
    log.info({ summary: summaryKey }, 'already scored at this etag; nothing to do');
    return { status: 'already_scored', summary: previous };
  }

  for (let attempt = 1; ; attempt++) {
    const model = ctx.models.current();
    if (!model) throw new NoModelError('no model loaded yet');
    try {
      return await scoreWith(ctx, model, input, { base, summaryKey }, { ...opts, log });
    } catch (error) {
      if (!(error instanceof ModelReplacedError) || attempt === MAX_ATTEMPTS) throw error;
      log.info({ version: model.metadata.version }, 'model replaced mid-file; starting over with the new one');
    }
  }
}

async function scoreWith(
  ctx: BatchContext,
  model: ServingModel,
  input: ObjectInfo,
  keys: { base: string; summaryKey: string },
  opts: Pick<ScoreOptions, 'onProgress'> & { log: Logger },
): Promise<ScoreOutcome> {
  const { store } = ctx;
  const version = model.metadata.version;
  const output = `${keys.base}.${version}.predictions.jsonl`;
  const errors = `${keys.base}.${version}.errors.jsonl`;
  const dir = await mkdtemp(join(ctx.tmpDir ?? tmpdir(), 'batch-score-'));
  opts.log.info({ version, etag: input.etag, size: input.size }, 'scoring');
  try {
    const local = join(dir, 'predictions.jsonl');
    const stream = await store.createReadStream(input.key);
    let counts: ScoreCounts;
    try {
      counts = await scoreToFile(model, { stream, name: input.key }, local, {
        chunkRows: ctx.chunkRows,
        batchSize: ctx.batchSize,
        textField: ctx.textField,
        maxLineBytes: ctx.maxLineBytes,
        isCurrent: () => ctx.models.current() === model,
        ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
      });
    } catch (error) {
      if (!(error instanceof DataError)) throw error;
      // The file itself is unreadable: record that verdict for this etag, so re-deliveries stop here.
      const zero = { rows: 0, bad: 0, badRows: [], seconds: 0 };
      const summary = {
        ...summarize(zero, { input: input.key, inputEtag: input.etag, output: null, errors: null }, version),
        error: error.message,
      };
      await putJson(store, keys.summaryKey, summary);
      opts.log.warn({ error: error.message }, 'cannot read the input; recorded in its summary');
      return { status: 'failed', summary };
    }
    // uploadFile is atomic: readers see the whole predictions object or none.
    await store.uploadFile(output, local);
    if (counts.bad > 0) await store.put(errors, errorLines(counts.badRows));
    else await store.delete(errors);
    const summary = summarize(counts, { input: input.key, inputEtag: input.etag, output, errors: counts.bad > 0 ? errors : null }, version);
    await putJson(store, keys.summaryKey, summary);
    opts.log.info(
      { version, rows: summary.rows, bad_rows: summary.bad_rows, seconds: summary.seconds, rows_per_second: summary.rows_per_second },
      'scored',
    );
    return { status: 'scored', summary };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function ignoreReason(ctx: BatchContext, { key, bucket }: { key: string; bucket?: string }): string | undefined {
  if (ctx.bucket && bucket && bucket !== ctx.bucket) return `bucket "${bucket}" is not the configured "${ctx.bucket}"`;
  // Checked before the input prefix, which may contain the output prefix: our own writes never loop back.
  if (key.startsWith(ctx.outputPrefix)) return `under the output prefix "${ctx.outputPrefix}" (our own output)`;
  if (!key.startsWith(ctx.inputPrefix)) return `outside the input prefix "${ctx.inputPrefix}"`;
  if (key.split('/').some((s) => s === '' || s === '.' || s === '..')) return 'not a valid object key';
  if (!INPUT_FORMAT.test(key)) return 'not a .jsonl, .jsonl.gz, .csv or .csv.gz file';
  return undefined;
}

/** The summary of an earlier run, or undefined when there is none (or it is not ours to trust). */
async function readSummary(store: ObjectStore, key: string): Promise<BatchSummary | undefined> {
  let text: string;
  try {
    text = (await store.get(key)).body.toString();
  } catch (error) {
    if (error instanceof NotFoundError) return undefined;
    throw error;
  }
  try {
    return summarySchema.parse(JSON.parse(text));
  } catch {
    return undefined;
  }
}
