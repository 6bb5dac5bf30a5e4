/**
 * The functions and their sizing, and the settings every provider shares, read from the environment
 * once here. A real deployment needs every setting of its provider and fails with one message naming
 * all that are missing; a dry run fills the gaps with visible placeholders (`PROJECT_ID`, …) and
 * lists them, so its output is never mistaken for a deployable manifest. Each provider's own block
 * (GCP_*, AWS_*, …) comes from its zod schema (providers/<name>/).
 */
import { z } from 'zod';
import type { Images } from './images.ts';

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

/** The URLs each function calls, by setting (names from apps/<fn>/src/settings.ts): evaluate → retrain-trigger → promote. */
export const FUNCTION_CALLS: Readonly<Partial<Record<FunctionName, Readonly<Record<string, FunctionName>>>>> = {
  evaluate: { RETRAIN_TRIGGER_URL: 'retrain-trigger', PROMOTE_URL: 'promote' },
  'retrain-trigger': { PROMOTE_URL: 'promote' },
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
/**
 * Function settings whose values are secrets (the key, and URLs that carry a password or are
 * themselves the credential). The deploy never writes or prints their values: each is given as
 * `<NAME>_SECRET`, the name of a secret in the provider's secret store, and the function's
 * configuration references it (Secret Manager on GCP, an SSM SecureString on AWS).
 */
export const SECRET_SETTINGS = ['MLOPS_API_KEY', 'ALERT_SMTP_URL', 'ALERT_WEBHOOK_URL'] as const;
export type SecretSetting = (typeof SECRET_SETTINGS)[number];
const secretRef = (name: SecretSetting) => `${name}_SECRET`;
/** Deploy-only variables that look like function settings but must not be shipped. */
const NOT_FOR_FUNCTIONS = new Set<string>([
  'MLOPS_BUCKET',
  'MLOPS_PROVIDER',
  'MLOPS_CACHE_DIR',
  'MLOPS_DATA_DIR',
  'MLOPS_PYTHON',
  ...SECRET_SETTINGS,
  ...SECRET_SETTINGS.map(secretRef),
]);

/** Unset, empty and blank are the same thing in an environment (`FOO=` in a .env file). */
const presentValue = (value: string | undefined): string | undefined =>
  value === undefined || value.trim() === '' ? undefined : value.trim();

/** The variables that have a value: a blank one is unset (a workflow's unset repository variable reads as ''). */
export const setVariables = (env: NodeJS.ProcessEnv): Record<string, string> =>
  Object.fromEntries(Object.entries(env).filter((entry): entry is [string, string] => presentValue(entry[1]) !== undefined));

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
  /** Variables passed to every function (store, function settings present in the environment); never a secret. */
  functionEnv: Record<string, string>;
  /** Secret settings passed to every function by reference: the name of each in the provider's secret store. */
  secrets: Partial<Record<SecretSetting, string>>;
  /** Settings a dry run filled in with a placeholder (empty for a real deployment). */
  placeholders: string[];
  /** Images by digest the deploy was given (images.ts); an image not named here goes by its tag. */
  images: Images;
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
  /** The deploy wires who may call each function itself (OIDC on GCP), so no key is needed. */
  readonly wiresCallerAuth?: boolean;
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
  for (const [key, value] of Object.entries(setVariables(env))) {
    if (NOT_FOR_FUNCTIONS.has(key)) continue;
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

  const { secrets, missingSecrets } = secretsFrom(env, dryRun, provider.wiresCallerAuth ?? false);
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
    secrets,
    placeholders: [...missing, ...missingSecrets],
    images: {},
  };
}

/**
 * The secret references, and who may call the functions: a deployed function refuses to start
 * with open state-changing routes (libs/platform guardedCallerPolicy), so a real deploy needs the
 * key's secret or MLOPS_ALLOW_OPEN=true, unless the provider wires OIDC itself (GCP). A dry run shows the key's reference with
 * a placeholder, also in place of a plain secret value, which it never prints.
 */
function secretsFrom(
  env: NodeJS.ProcessEnv,
  dryRun: boolean,
  wiresCallerAuth: boolean,
): { secrets: DeploySettings['secrets']; missingSecrets: string[] } {
  const secrets: DeploySettings['secrets'] = {};
  const missingSecrets: string[] = [];
  const placeholder = (name: SecretSetting) => {
    secrets[name] = secretRef(name);
    missingSecrets.push(secretRef(name));
  };
  const plain = SECRET_SETTINGS.filter((name) => presentValue(env[name]) !== undefined);
  if (plain.length > 0 && !dryRun) {
    throw new Error(
      `${plain.join(', ')} would be written in plain text into every function's configuration: keep ${plain.length === 1 ? 'it' : 'them'} ` +
        `in the provider's secret store (GCP Secret Manager, or an AWS SSM SecureString parameter) and set ${plain.map(secretRef).join(', ')} to the name`,
    );
  }
  for (const name of SECRET_SETTINGS) {
    const ref = presentValue(env[secretRef(name)]);
    if (ref !== undefined) secrets[name] = ref;
    else if (plain.includes(name)) placeholder(name);
  }
  // Without OIDC wired by the deploy the functions call each other (and the schedule calls
  // evaluate) with the key: audiences alone would leave them refused by each other.
  const open = !wiresCallerAuth && secrets.MLOPS_API_KEY === undefined && env['MLOPS_ALLOW_OPEN']?.trim() !== 'true';
  if (open && !dryRun) {
    throw new Error(
      'the functions would refuse to start, or each other: nothing says who may call their state-changing routes. ' +
        'Set MLOPS_API_KEY_SECRET (the key in the secret store), or MLOPS_ALLOW_OPEN=true to deploy them open on purpose',
    );
  }
  if (open) placeholder('MLOPS_API_KEY');
  return { secrets, missingSecrets };
}
