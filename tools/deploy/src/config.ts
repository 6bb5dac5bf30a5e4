/**
 * The functions and their sizing, and the settings every provider shares, read from the environment
 * once here. A real deployment needs every setting of its provider and fails with one message naming
 * all that are missing; a dry run fills the gaps with visible placeholders (`PROJECT_ID`, …) and
 * lists them, so its output is never mistaken for a deployable manifest. Each provider's own block
 * (GCP_*, AWS_*, …) comes from its zod schema (providers/<name>/).
 */
import { z } from 'zod';

export const FUNCTIONS = ['predict', 'batch-score', 'evaluate', 'retrain-trigger', 'promote'] as const;
export type FunctionName = (typeof FUNCTIONS)[number];

/** Sizing of one function for the default model, the same on every provider; sizing.ts raises it for a larger model. */
export interface FunctionSpec {
  name: FunctionName;
  memoryMiB: number;
  cpu: number;
  /** Requests one instance serves at once (Cloud Run, Cloud Functions gen2); Lambda is always 1. */
  concurrency: number;
  timeoutSeconds: number;
  maxInstances: number;
  /** Routes the app serves. Cloud Run / Functions and Lambda Function URLs serve every path; Lambda's HTTP API gets these (providers/lambda). */
  routes: readonly string[];
}

/**
 * predict holds the ONNX model in memory and batches concurrent requests, so it gets the most CPU
 * and a high concurrency. batch-score streams whole files: 15 min (Lambda's ceiling) and 4 GiB.
 * The control-plane functions load a model only to score candidates (promote) or not at all.
 */
export const FUNCTION_SPECS: Readonly<Record<FunctionName, FunctionSpec>> = {
  predict: {
    name: 'predict',
    memoryMiB: 2048,
    cpu: 2,
    concurrency: 16,
    timeoutSeconds: 60,
    maxInstances: 10,
    routes: ['POST /v1/predict', 'POST /v1/feedback', 'GET /v1/model', 'GET /healthz', 'GET /readyz', 'ANY /v2/{proxy+}'],
  },
  'batch-score': { name: 'batch-score', memoryMiB: 4096, cpu: 2, concurrency: 1, timeoutSeconds: 900, maxInstances: 5, routes: [] },
  evaluate: {
    name: 'evaluate',
    memoryMiB: 2048,
    cpu: 1,
    concurrency: 1,
    timeoutSeconds: 600,
    maxInstances: 1,
    routes: ['POST /v1/evaluate', 'GET /v1/evaluations'],
  },
  'retrain-trigger': {
    name: 'retrain-trigger',
    memoryMiB: 1024,
    cpu: 1,
    concurrency: 4,
    timeoutSeconds: 300,
    maxInstances: 1,
    routes: ['POST /v1/trigger', 'POST /v1/runs/sync', 'GET /v1/runs'],
  },
  promote: {
    name: 'promote',
    memoryMiB: 2048,
    cpu: 1,
    concurrency: 1,
    timeoutSeconds: 900,
    maxInstances: 1,
    routes: ['POST /v1/candidates', 'POST /v1/canary/review', 'POST /v1/rollback'],
  },
};

/** Prefixes of the variables passed on to a deployed function (its own settings and the shared libs'). */
export const FUNCTION_ENV_PREFIXES = [
  'MLOPS_',
  'PREDICT_',
  'BATCH_',
  'EVALUATE_',
  'RETRAIN_',
  'PROMOTE_',
  'ALERT_',
  'JOBS_',
  'CLOUD_RUN_',
  'SAGEMAKER_',
] as const;
/** Deploy-only variables that look like function settings but must not be shipped. */
const NOT_FOR_FUNCTIONS = new Set(['MLOPS_BUCKET', 'MLOPS_CACHE_DIR', 'MLOPS_DATA_DIR', 'MLOPS_PYTHON']);

/** Unset, empty and blank are the same thing in an environment (`FOO=` in a .env file). */
const presentValue = (value: string | undefined): string | undefined =>
  value === undefined || value.trim() === '' ? undefined : value.trim();

/** One optional environment variable, trimmed; blank reads as unset. Providers build their schemas from it. */
export const envValue = () => z.string().optional().transform(presentValue);

const sharedEnvSchema = z.object({
  MLOPS_STORE: envValue(),
  /** Overrides the bucket taken from MLOPS_STORE (batch-score's trigger bucket and the IAM scope). */
  MLOPS_BUCKET: envValue(),
});

export interface StoreLocation {
  scheme: 'gs' | 's3' | 'file';
  bucket: string;
  /** Key prefix inside the bucket, '' or ending with '/'. */
  prefix: string;
}

/** What every provider gets; its own block (`gcp`, `aws`, …) is added by its settings schema. */
export interface DeploySettings {
  provider: string;
  dryRun: boolean;
  store: string;
  storeLocation: StoreLocation;
  /** Variables passed to every function (store, function settings present in the environment). */
  functionEnv: Record<string, string>;
  /** Settings a dry run filled in with a placeholder (empty for a real deployment). */
  placeholders: string[];
}

/** What a provider declares about its settings (part of DeployProvider). */
export interface ProviderSettings<Block extends object> {
  readonly name: string;
  /** The store a function instance on this provider can reach (it has no shared disk). */
  readonly storeScheme: 'gs' | 's3';
  /** Variables a real deployment needs besides MLOPS_STORE, in the order the error names them. */
  readonly requiredEnv: readonly string[];
  /** Its own variables into its own block; defaults are the placeholders a dry run shows. */
  readonly settingsSchema: z.ZodType<Block>;
}

export class DeploySettingsError extends Error {
  override readonly name = 'DeploySettingsError';
  constructor(
    readonly missing: readonly string[],
    readonly provider: string,
  ) {
    super(
      `deploy to ${provider} needs ${missing.join(', ')} (missing from the environment); ` +
        `set ${missing.length === 1 ? 'it' : 'them'} or use --dry-run to print the manifests with placeholders`,
    );
  }
}

export function parseStore(url: string): StoreLocation {
  const match = /^(gs|s3):\/\/([^/]+)\/?(.*)$/.exec(url);
  if (!match) return { scheme: 'file', bucket: '', prefix: '' };
  const [, scheme, bucket, rest] = match;
  const prefix = rest ? (rest.endsWith('/') ? rest : `${rest}/`) : '';
  return { scheme: scheme === 'gs' ? 'gs' : 's3', bucket: bucket ?? '', prefix };
}

export function functionEnvFrom(env: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(env)) {
    if (value === undefined || NOT_FOR_FUNCTIONS.has(key)) continue;
    if (key === 'LOG_LEVEL' || FUNCTION_ENV_PREFIXES.some((p) => key.startsWith(p))) out[key] = value;
  }
  return Object.fromEntries(Object.entries(out).sort(([a], [b]) => a.localeCompare(b)));
}

/** The shared settings plus the provider's own block; see providers/index.ts for loading by name. */
export function loadProviderSettings<Block extends object>(
  provider: ProviderSettings<Block>,
  env: NodeJS.ProcessEnv,
  dryRun: boolean,
): DeploySettings & Block {
  const shared = sharedEnvSchema.parse(env);
  const required = [...provider.requiredEnv, 'MLOPS_STORE'];
  const missing = required.filter((key) => presentValue(env[key]) === undefined);
  const storeScheme = shared.MLOPS_STORE ? parseStore(shared.MLOPS_STORE).scheme : undefined;
  if (!dryRun && shared.MLOPS_STORE && storeScheme !== provider.storeScheme) {
    throw new Error(
      `deploy to ${provider.name} needs MLOPS_STORE on ${provider.storeScheme}:// (got ${shared.MLOPS_STORE}): a function instance has no shared disk`,
    );
  }
  if (!dryRun && missing.length > 0) throw new DeploySettingsError(missing, provider.name);

  const store = shared.MLOPS_STORE ?? `${provider.storeScheme}://MLOPS_BUCKET/mlops`;
  const storeLocation = parseStore(store);
  if (shared.MLOPS_BUCKET) storeLocation.bucket = shared.MLOPS_BUCKET;
  return {
    ...provider.settingsSchema.parse(env),
    provider: provider.name,
    dryRun,
    store,
    storeLocation,
    functionEnv: { ...functionEnvFrom(env), MLOPS_STORE: store },
    placeholders: missing,
  };
}
