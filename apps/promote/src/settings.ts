import { logLevel, parseSettings } from '@mlops/config';
import { callerAuthSettings, trustedCallersSettings } from '@mlops/platform';
import { z } from 'zod';

/** promote's gate and canary settings (store, model, data dir come from @mlops/config). */
const schema = z.object({
  /** The candidate must beat the champion's accuracy on the primary set by at least this. */
  PROMOTE_MARGIN: z.coerce.number().min(0).max(1).default(0.02),
  /** Guards (per-class recall, base-data accuracy, a canary's live accuracy) may not fall by more than this. */
  PROMOTE_TOLERANCE: z.coerce.number().min(0).max(1).default(0.02),
  /** The candidate's time per text may be at most this multiple of the champion's. */
  PROMOTE_MAX_LATENCY_RATIO: z.coerce.number().positive().default(1.5),
  /** Held-out labelled feedback in the window needed to be the primary set (else the base set decides). */
  PROMOTE_MIN_HOLDOUT: z.coerce.number().int().positive().default(100),
  PROMOTE_WINDOW_MINUTES: z.coerce
    .number()
    .positive()
    .default(7 * 24 * 60),
  /** The first domain's held-out data (default IMDB test), sampled so nothing is forgotten unnoticed. */
  PROMOTE_BASE_EVAL: z.string().min(1).optional(),
  /** The CSV column or JSON key of the text, and of the label, in the base evaluation data. */
  PROMOTE_BASE_TEXT_FIELD: z.string().min(1).default('text'),
  PROMOTE_BASE_LABEL_FIELD: z.string().min(1).default('label'),
  PROMOTE_BASE_ROWS: z.coerce.number().int().nonnegative().default(2000),
  /** Traffic share of the challenger while its canary runs. */
  PROMOTE_CANARY_WEIGHT: z.coerce.number().gt(0).max(1).default(0.2),
  /** Labelled predictions each model needs in the canary before it is decided. */
  PROMOTE_CANARY_MIN_LABELS: z.coerce.number().int().positive().default(200),
  /** A canary still undecided after this long is rolled back. */
  PROMOTE_CANARY_MAX_MINUTES: z.coerce
    .number()
    .positive()
    .default(24 * 60),
  /** Who may call the guarded routes: MLOPS_API_KEY (also sent to other functions) and/or OIDC ID tokens (MLOPS_OIDC_*). */
  ...callerAuthSettings,
  ...trustedCallersSettings,
  LOG_LEVEL: logLevel,
});

export type PromoteSettings = z.infer<typeof schema>;

export function loadPromoteSettings(env: NodeJS.ProcessEnv = process.env): PromoteSettings {
  return parseSettings(schema, env, 'promote');
}
