/** Names and formats both GCP providers use: resource ids, the parent location, images, memory sizes. */
import { FUNCTION_CALLS, type FunctionName } from '../../config.ts';
import type { GcpDeploySettings } from './settings.ts';

/** The Cloud Run service, or Cloud Function, of a function. */
export const serviceId = (fn: FunctionName): string => `mlops-${fn}`;
export const parentOf = (s: GcpDeploySettings): string => `projects/${s.gcp.project}/locations/${s.gcp.region}`;
/** The full resource name of a function's Cloud Run service or Cloud Function. */
export const resourceName = (kind: 'services' | 'functions', fn: FunctionName, s: GcpDeploySettings): string =>
  `${parentOf(s)}/${kind}/${serviceId(fn)}`;
/**
 * A function's URL, known before it exists: Cloud Run's deterministic run.app address, or Cloud
 * Functions' cloudfunctions.net one. Callers' ID tokens carry it as their audience.
 */
export function functionUrl(fn: FunctionName, s: GcpDeploySettings): string {
  return s.provider === 'cloudfunctions'
    ? `https://${s.gcp.region}-${s.gcp.project}.cloudfunctions.net/${serviceId(fn)}`
    : `https://${serviceId(fn)}-${s.gcp.projectNumber}.${s.gcp.region}.run.app`;
}

const withList = (extra: string | undefined, ...items: string[]): string =>
  [...items, ...(extra ?? '').split(',').map((x) => x.trim())].filter((x, i, all) => x !== '' && all.indexOf(x) === i).join(',');

/**
 * The environment a GCP function is given: the deploy's, LOG_LEVEL at info unless set, and OIDC
 * end to end. Each function accepts ID tokens for its own URL from the functions' service account
 * (which Cloud Scheduler, Eventarc and the calling functions all use; MLOPS_OIDC_EMAILS adds more
 * principals), and calls the others at their URLs with ID tokens.
 */
export function gcpFunctionEnv(s: GcpDeploySettings, fn: FunctionName): Record<string, string> {
  const env = s.functionEnv;
  const calls = Object.entries(FUNCTION_CALLS[fn] ?? {});
  return {
    ...env,
    LOG_LEVEL: env.LOG_LEVEL ?? 'info',
    MLOPS_OIDC_AUDIENCES: withList(env.MLOPS_OIDC_AUDIENCES, functionUrl(fn, s)),
    MLOPS_OIDC_EMAILS: withList(env.MLOPS_OIDC_EMAILS, s.gcp.serviceAccount),
    ...Object.fromEntries(calls.map(([name, callee]) => [name, env[name] ?? functionUrl(callee, s)])),
    ...(calls.length > 0 && { MLOPS_CALL_AUTH: env.MLOPS_CALL_AUTH ?? 'id-token' }),
  };
}

/**
 * The secret settings of a GCP function, each read from the Secret Manager secret its
 * `<NAME>_SECRET` names (the service account needs roles/secretmanager.secretAccessor on it).
 */
export const gcpSecretEnv = (s: GcpDeploySettings): { name: string; secret: string }[] =>
  Object.entries(s.secrets).map(([name, secret]) => ({ name, secret }));

/** An image by the digest the deploy was given (images.ts), else in the Artifact Registry repository at the tag being deployed. */
export const imageNamed = (image: string, s: GcpDeploySettings): string =>
  s.images[image] ?? `${s.gcp.imageRepo}/${image}:${s.gcp.imageTag}`;
/** A function's image, built from deploy/functions.Dockerfile. */
export const imageOf = (fn: FunctionName, s: GcpDeploySettings): string => imageNamed(serviceId(fn), s);

/** Cloud Run's (and Cloud Functions gen2's) memory format: 2048 MiB → "2Gi". */
export function memoryLimit(mib: number): string {
  return mib % 1024 === 0 ? `${mib / 1024}Gi` : `${mib}Mi`;
}

/** google-gax's NOT_FOUND code, which a get on a missing service or function rejects with. */
const NOT_FOUND = 5;
export const isNotFound = (error: unknown): boolean =>
  typeof error === 'object' && error !== null && 'code' in error && error.code === NOT_FOUND;
