import { logLevel, parseSettings } from '@mlops/config';
import { callAuthSettings, callerAuthSettings, trustedCallersSettings } from '@mlops/platform';
import { z } from 'zod';

/** retrain-trigger's policy and job settings (store, model, data dir come from @mlops/config; launcher from @mlops/jobs). */
const schema = z.object({
  /** Which triggers start a run: evaluate's (stale/drifting), a scheduler's, or both. */
  RETRAIN_MODE: z.enum(['performance', 'schedule', 'both']).default('performance'),
  /** No new run within this long of the last one started (failed runs included). */
  RETRAIN_COOLDOWN_MINUTES: z.coerce.number().nonnegative().default(60),
  /** At most this many runs started in any 24 hours: the cost cap. */
  RETRAIN_DAILY_CAP: z.coerce.number().int().nonnegative().default(4),
  /** Labelled rows (usable for training) that arrived since the last successful run. */
  RETRAIN_MIN_NEW_LABELS: z.coerce.number().int().nonnegative().default(500),
  /** The base data mixed with feedback, so the model does not forget its first domain. */
  RETRAIN_BASE_DATA: z.string().min(1).optional(),
  /** The CSV column or JSON key of the text, and of the label, in the base data. */
  RETRAIN_BASE_TEXT_FIELD: z.string().min(1).default('text'),
  RETRAIN_BASE_LABEL_FIELD: z.string().min(1).default('label'),
  RETRAIN_BASE_ROWS: z.coerce.number().int().nonnegative().default(2000),
  RETRAIN_EPOCHS: z.coerce.number().int().positive().default(3),
  RETRAIN_LR: z.coerce.number().positive().default(5e-4),
  RETRAIN_GPU: z.stringbool().default(false),
  /** Told about each registered candidate; unset: candidates wait for a person. */
  PROMOTE_URL: z.url().optional(),
  /** Who may call the guarded routes: MLOPS_API_KEY (also sent to other functions) and/or OIDC ID tokens (MLOPS_OIDC_*). */
  ...callerAuthSettings,
  ...trustedCallersSettings,
  /** How calls to other functions authenticate (MLOPS_CALL_AUTH: api-key, id-token or none). */
  ...callAuthSettings,
  LOG_LEVEL: logLevel,
});

export type RetrainSettings = z.infer<typeof schema>;

export function loadRetrainSettings(env: NodeJS.ProcessEnv = process.env): RetrainSettings {
  return parseSettings(schema, env, 'retrain-trigger');
}
