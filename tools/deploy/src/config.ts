/**
 * Deploy settings from the environment, validated once here. A real deployment needs every setting
 * of its provider and fails with one message naming all that are missing; a dry run fills the gaps
 * with visible placeholders (`PROJECT_ID`, …) and lists them, so its output is never mistaken for
 * a deployable manifest.
 */
import { z } from 'zod';

export const FUNCTIONS = ['predict', 'batch-score', 'evaluate', 'retrain-trigger', 'promote'] as const;
export const PROVIDERS = ['cloudrun', 'cloudfunctions', 'lambda'] as const;
export type FunctionName = (typeof FUNCTIONS)[number];
export type Provider = (typeof PROVIDERS)[number];

/** Sizing of one function; the same numbers drive Cloud Run, Cloud Functions and Lambda. */
export interface FunctionSpec {
  name: FunctionName;
  memoryMiB: number;
  cpu: number;
  /** Requests one instance serves at once (Cloud Run, Cloud Functions gen2); Lambda is always 1. */
  concurrency: number;
  timeoutSeconds: number;
  maxInstances: number;
  /** Routes the app serves. Cloud Run / Functions and Lambda Function URLs serve every path; Lambda's HTTP API gets these (lambda.ts). */
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
  evaluate: { name: 'evaluate', memoryMiB: 2048, cpu: 1, concurrency: 1, timeoutSeconds: 600, maxInstances: 1, routes: ['POST /v1/evaluate', 'GET /v1/evaluations'] },
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
export const FUNCTION_ENV_PREFIXES = ['MLOPS_', 'PREDICT_', 'BATCH_', 'EVALUATE_', 'RETRAIN_', 'PROMOTE_', 'ALERT_', 'JOBS_', 'CLOUD_RUN_', 'SAGEMAKER_'] as const;
/** Deploy-only variables that look like function settings but must not be shipped. */
const NOT_FOR_FUNCTIONS = new Set(['MLOPS_BUCKET', 'MLOPS_CACHE_DIR', 'MLOPS_DATA_DIR', 'MLOPS_PYTHON']);

const optional = () =>
  z
    .string()
    .optional()
    .transform((v) => (v === undefined || v.trim() === '' ? undefined : v.trim()));

const envSchema = z.object({
  GCP_PROJECT: optional(),
  GCP_REGION: optional(),
  GCP_SERVICE_ACCOUNT: optional(),
  /** Artifact Registry repository the function images are pushed to, e.g. europe-west1-docker.pkg.dev/p/mlops. */
  GCP_IMAGE_REPO: optional(),
  /** Bucket the Cloud Functions source zips are uploaded to (default: the store's bucket). */
  GCP_SOURCE_BUCKET: optional(),
  /** Image tag to deploy (default latest). */
  IMAGE_TAG: optional(),
  /** URL the scheduler calls (default: the evaluate service's URL read after its deploy). */
  EVALUATE_URL: optional(),
  /** Cron for evaluate (Cloud Scheduler, unix cron) and its EventBridge equivalent. */
  EVALUATE_SCHEDULE: optional(),
  EVALUATE_SCHEDULE_AWS: optional(),
  SCHEDULER_TIME_ZONE: optional(),
  AWS_REGION: optional(),
  /** Overrides the bucket taken from MLOPS_STORE (batch-score's trigger bucket and the IAM scope). */
  MLOPS_BUCKET: optional(),
  MLOPS_STORE: optional(),
  ALERT_SNS_TOPIC_ARN: optional(),
  SERVERLESS_STAGE: optional(),
  SERVERLESS_SERVICE: optional(),
});

/** Every variable each provider needs for a real deployment. */
export const REQUIRED: Readonly<Record<Provider, readonly string[]>> = {
  cloudrun: ['GCP_PROJECT', 'GCP_REGION', 'GCP_SERVICE_ACCOUNT', 'GCP_IMAGE_REPO', 'MLOPS_STORE'],
  cloudfunctions: ['GCP_PROJECT', 'GCP_REGION', 'GCP_SERVICE_ACCOUNT', 'MLOPS_STORE'],
  lambda: ['AWS_REGION', 'MLOPS_STORE'],
};

/** Placeholders a dry run uses for a missing setting; each is listed in `placeholders`. */
export const PLACEHOLDERS: Readonly<Record<string, string>> = {
  GCP_PROJECT: 'PROJECT_ID',
  GCP_REGION: 'REGION',
  GCP_SERVICE_ACCOUNT: 'SERVICE_ACCOUNT@PROJECT_ID.iam.gserviceaccount.com',
  GCP_IMAGE_REPO: 'REGION-docker.pkg.dev/PROJECT_ID/REPOSITORY',
  AWS_REGION: 'us-east-1',
};

export interface StoreLocation {
  scheme: 'gs' | 's3' | 'file';
  bucket: string;
  /** Key prefix inside the bucket, '' or ending with '/'. */
  prefix: string;
}

export interface DeploySettings {
  provider: Provider;
  dryRun: boolean;
  gcp: {
    project: string;
    region: string;
    serviceAccount: string;
    imageRepo: string;
    imageTag: string;
    sourceBucket: string;
    evaluateUrl?: string;
    schedule: string;
    timeZone: string;
  };
  aws: {
    region: string;
    stage: string;
    service: string;
    scheduleExpression: string;
    snsTopicArn?: string;
  };
  store: string;
  storeLocation: StoreLocation;
  /** Variables passed to every function (store, function settings present in the environment). */
  functionEnv: Record<string, string>;
  /** Settings a dry run filled in with a placeholder (empty for a real deployment). */
  placeholders: string[];
}

export class DeploySettingsError extends Error {
  override readonly name = 'DeploySettingsError';
  constructor(
    readonly missing: readonly string[],
    readonly provider: Provider,
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

export function loadDeploySettings(env: NodeJS.ProcessEnv, provider: Provider, dryRun: boolean): DeploySettings {
  const e = envSchema.parse(env);
  const values = e as Record<string, string | undefined>;
  const missing = REQUIRED[provider].filter((key) => values[key] === undefined);
  const storeScheme = e.MLOPS_STORE ? parseStore(e.MLOPS_STORE).scheme : undefined;
  const wantScheme = provider === 'lambda' ? 's3' : 'gs';
  if (!dryRun && e.MLOPS_STORE && storeScheme !== wantScheme) {
    throw new Error(`deploy to ${provider} needs MLOPS_STORE on ${wantScheme}:// (got ${e.MLOPS_STORE}): a function instance has no shared disk`);
  }
  if (!dryRun && missing.length > 0) throw new DeploySettingsError(missing, provider);

  const placeholders: string[] = [];
  const pick = (key: string, fallback: string): string => {
    const value = values[key];
    if (value !== undefined) return value;
    if (REQUIRED[provider].includes(key)) placeholders.push(key);
    return fallback;
  };
  const project = pick('GCP_PROJECT', PLACEHOLDERS.GCP_PROJECT ?? 'PROJECT_ID');
  const region = pick('GCP_REGION', provider === 'lambda' ? 'europe-west1' : (PLACEHOLDERS.GCP_REGION ?? 'REGION'));
  const serviceAccount = pick('GCP_SERVICE_ACCOUNT', `mlops-functions@${project}.iam.gserviceaccount.com`);
  const imageRepo = pick('GCP_IMAGE_REPO', `${region}-docker.pkg.dev/${project}/mlops`);
  const store = pick('MLOPS_STORE', provider === 'lambda' ? 's3://MLOPS_BUCKET/mlops' : 'gs://MLOPS_BUCKET/mlops');
  const storeLocation = parseStore(store);
  if (e.MLOPS_BUCKET) storeLocation.bucket = e.MLOPS_BUCKET;
  const awsRegion = pick('AWS_REGION', PLACEHOLDERS.AWS_REGION ?? 'us-east-1');

  return {
    provider,
    dryRun,
    gcp: {
      project,
      region,
      serviceAccount,
      imageRepo,
      imageTag: e.IMAGE_TAG ?? 'latest',
      sourceBucket: e.GCP_SOURCE_BUCKET ?? storeLocation.bucket,
      ...(e.EVALUATE_URL ? { evaluateUrl: e.EVALUATE_URL } : {}),
      // Hourly: a window of a day re-read every hour catches a shift within the hour it shows up.
      schedule: e.EVALUATE_SCHEDULE ?? '0 * * * *',
      timeZone: e.SCHEDULER_TIME_ZONE ?? 'Etc/UTC',
    },
    aws: {
      region: awsRegion,
      stage: e.SERVERLESS_STAGE ?? 'prod',
      service: e.SERVERLESS_SERVICE ?? 'mlops',
      scheduleExpression: e.EVALUATE_SCHEDULE_AWS ?? 'rate(1 hour)',
      ...(e.ALERT_SNS_TOPIC_ARN ? { snsTopicArn: e.ALERT_SNS_TOPIC_ARN } : {}),
    },
    store,
    storeLocation,
    functionEnv: { ...functionEnvFrom(env), MLOPS_STORE: store },
    placeholders,
  };
}
