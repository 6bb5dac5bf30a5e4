import { logLevel, parseSettings } from '@mlops/config';
import { callAuthSettings, callerAuthSettings } from '@mlops/platform';
import { z } from 'zod';

/** Evaluate's own settings from the environment (store, model and cache come from @mlops/config). */
const schema = z.object({
  /** The recent window each run looks at. */
  EVALUATE_WINDOW_MINUTES: z.coerce
    .number()
    .positive()
    .default(24 * 60),
  /** Stale when the accuracy's 95% interval lies wholly below this. */
  EVALUATE_ACCURACY_THRESHOLD: z.coerce.number().gt(0).lt(1).default(0.8),
  /** False-alarm rate of each drift measure on unchanged data. */
  EVALUATE_DRIFT_ALPHA: z.coerce.number().gt(0).lt(0.5).default(0.01),
  /** Labelled files dropped here are imported as feedback at each run. */
  EVALUATE_FEEDBACK_PREFIX: z.string().min(1).default('feedback/incoming/'),
  /** The CSV column or JSON key of the text, and of the label, in those files. */
  EVALUATE_FEEDBACK_TEXT_FIELD: z.string().min(1).default('text'),
  EVALUATE_FEEDBACK_LABEL_FIELD: z.string().min(1).default('label'),
  /** Called when the champion is stale or drifting; unset: alert only. */
  RETRAIN_TRIGGER_URL: z.url().optional(),
  /** Asked to review a running canary after each evaluation; unset: no canary reviews. */
  PROMOTE_URL: z.url().optional(),
  /** Who may call the guarded routes: MLOPS_API_KEY (also sent to other functions) and/or OIDC ID tokens (MLOPS_OIDC_*). */
  ...callerAuthSettings,
  /** How calls to other functions authenticate (MLOPS_CALL_AUTH: api-key, id-token or none). */
  ...callAuthSettings,
  LOG_LEVEL: logLevel,
});

export type EvaluateSettings = z.infer<typeof schema>;

export function loadEvaluateSettings(env: NodeJS.ProcessEnv = process.env): EvaluateSettings {
  return parseSettings(schema, env, 'evaluate');
}
