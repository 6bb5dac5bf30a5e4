import { logLevel, parseSettings } from '@mlops/config';
import type { ServingOptions } from '@mlops/inference';
import { callerAuthSettings } from '@mlops/platform';
import { z } from 'zod';

const prefix = z.string().regex(/^([^/].*\/)?$/, 'must be "" or a relative key prefix ending with "/"');

/** Batch-score's own settings from the environment (store, model and cache come from @mlops/config). */
const schema = z
  .object({
    BATCH_INPUT_PREFIX: prefix.default('inbox/'),
    BATCH_OUTPUT_PREFIX: prefix.refine((p) => p !== '', 'must not be empty').default('scored/'),
    /** When set, events for other buckets are ignored (the service reads one configured store). */
    BATCH_BUCKET: z.string().min(1).optional(),
    /** Rows read and scored per step: bounds memory whatever the file size. */
    BATCH_CHUNK_ROWS: z.coerce.number().int().positive().default(256),
    /** The longest JSONL line (longer: a bad row, skipped unread) or CSV record (longer: the file fails) read, in bytes. */
    BATCH_MAX_LINE_BYTES: z.coerce.number().int().positive().default(1_048_576),
    /** The CSV column or JSON key of the text in the files scored (labels are not read). */
    BATCH_TEXT_FIELD: z.string().min(1).default('text'),
    /** Seconds between inbox listings; default 5 on a file:// store, off on cloud stores (events arrive instead). 0 turns it off. */
    BATCH_WATCH_SECONDS: z.coerce.number().nonnegative().optional(),
    BATCH_ALIAS: z
      .string()
      .regex(/^[a-z][a-z0-9-]*$/)
      .default('champion'),
    BATCH_POLL_SECONDS: z.coerce.number().positive().default(10),
    BATCH_MAX_BATCH: z.coerce.number().int().positive().default(256),
    /** onnxruntime intra-op threads per session (default from the model's size, as predict). */
    BATCH_THREADS: z.coerce.number().int().positive().optional(),
    /** Sessions in worker threads running passes side by side (0: on the event loop; default from the model's size, as predict). */
    BATCH_SESSIONS: z.coerce.number().int().nonnegative().optional(),
    /** Who may deliver events over HTTP (Eventarc's OIDC token, an S3-to-HTTP sender's key): MLOPS_API_KEY and/or MLOPS_OIDC_*. */
    ...callerAuthSettings,
    LOG_LEVEL: logLevel,
  })
  // Outputs under the input prefix are fine (they are skipped by name); the reverse would skip every input.
  .refine((s) => !s.BATCH_INPUT_PREFIX.startsWith(s.BATCH_OUTPUT_PREFIX), {
    path: ['BATCH_OUTPUT_PREFIX'],
    message: 'must not be the start of BATCH_INPUT_PREFIX (every input would look like an output)',
  });

export type BatchSettings = z.infer<typeof schema>;

/**
 * How batch-score runs its model: sessions as predict's (from the model's size: on the small
 * default model one single-threaded session per core scored more rows/s than one session using
 * every core, docs/benchmarks.md), with no batching wait (whole chunks make full batches).
 */
export function batchServingOptions(settings: BatchSettings): ServingOptions {
  return {
    maxBatchSize: settings.BATCH_MAX_BATCH,
    maxWaitMs: 0,
    ...(settings.BATCH_SESSIONS !== undefined && { sessions: settings.BATCH_SESSIONS }),
    ...(settings.BATCH_THREADS !== undefined && { threads: settings.BATCH_THREADS }),
  };
}

export function loadBatchSettings(env: NodeJS.ProcessEnv = process.env): BatchSettings {
  return parseSettings(schema, env, 'batch-score');
}
