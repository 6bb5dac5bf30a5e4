import { logLevel, parseSettings } from '@mlops/config';
import { callerAuthSettings } from '@mlops/platform';
import { z } from 'zod';

/** Predict's own settings from the environment (store, model and cache come from @mlops/config). */
const schema = z.object({
  PREDICT_ALIAS: z
    .string()
    .regex(/^[a-z][a-z0-9-]*$/)
    .default('champion'),
  /** Followed beside the champion; while it carries a canary weight it gets that share of request keys. Empty: no canary. */
  PREDICT_CHALLENGER_ALIAS: z.union([z.literal(''), z.string().regex(/^[a-z][a-z0-9-]*$/)]).default('challenger'),
  /** Accept labels at POST /v1/feedback. */
  PREDICT_FEEDBACK: z.stringbool().default(true),
  /** How far back the prediction log is searched for the id a label names. */
  PREDICT_FEEDBACK_LOOKUP_DAYS: z.coerce.number().positive().default(2),
  /** Memory (estimated bytes) for the predictions read back from the prediction log for feedback; oldest dropped first. */
  PREDICT_FEEDBACK_LOOKUP_MAX_BYTES: z.coerce
    .number()
    .int()
    .positive()
    .default(32 * 1024 * 1024),
  /** Memory (estimated bytes) for this instance's latest predictions, texts included, that feedback joins without a store read. */
  PREDICT_RECENT_MAX_BYTES: z.coerce
    .number()
    .int()
    .positive()
    .default(64 * 1024 * 1024),
  /** How often the alias is re-read; a moved alias is loaded in the background and swapped in. */
  PREDICT_POLL_SECONDS: z.coerce.number().positive().default(10),
  PREDICT_MAX_TEXTS: z.coerce.number().int().positive().default(64),
  PREDICT_MAX_TEXT_BYTES: z.coerce.number().int().positive().default(20_000),
  PREDICT_MAX_BODY_BYTES: z.coerce.number().int().positive().default(2_000_000),
  PREDICT_MAX_BATCH: z.coerce.number().int().positive().default(32),
  /** Extra wait for company when the model is idle; requests arriving during a pass are batched regardless. */
  PREDICT_MAX_WAIT_MS: z.coerce.number().nonnegative().default(0),
  /**
   * Bounds of the texts waiting for a pass: beyond either, a request is answered 503 with
   * Retry-After at once instead of joining a queue its client would give up on. The count bounds
   * memory (texts × PREDICT_MAX_TEXT_BYTES); the time is estimated from recent passes.
   */
  PREDICT_MAX_QUEUED: z.coerce.number().int().positive().default(1024),
  PREDICT_MAX_QUEUE_MS: z.coerce.number().positive().default(5000),
  /** onnxruntime intra-op threads per session; default from the model's size (1, or every core above 64 MiB of ONNX). */
  PREDICT_THREADS: z.coerce.number().int().positive().optional(),
  /** Sessions in worker threads running passes side by side (0: on the event loop); default one per core, or one above 64 MiB of ONNX. */
  PREDICT_SESSIONS: z.coerce.number().int().nonnegative().optional(),
  /** Share of predictions written to the prediction log (0 turns it off). */
  PREDICT_LOG_SAMPLE_RATE: z.coerce.number().min(0).max(1).default(1),
  /** Store raw texts in the prediction log; off by default, hashes are enough to join feedback. */
  PREDICT_LOG_TEXT: z.stringbool().default(false),
  PREDICT_LOG_FLUSH_SECONDS: z.coerce.number().positive().default(5),
  /** Who may send labels to /v1/feedback (and predict, with PREDICT_REQUIRE_AUTH): MLOPS_API_KEY and/or OIDC ID tokens (MLOPS_OIDC_*). */
  ...callerAuthSettings,
  /** Guard /v1/predict and /v2 infer too; off: predictions are public. */
  PREDICT_REQUIRE_AUTH: z.stringbool().default(false),
  LOG_LEVEL: logLevel,
});

export type PredictSettings = z.infer<typeof schema>;

export function loadPredictSettings(env: NodeJS.ProcessEnv = process.env): PredictSettings {
  return parseSettings(schema, env, 'predict');
}
