/** Names and formats both GCP providers use: resource ids, the parent location, images, memory sizes. */
import type { FunctionName } from '../../config.ts';
import type { GcpDeploySettings } from './settings.ts';

/** The Cloud Run service, or Cloud Function, of a function. */
export const serviceId = (fn: FunctionName): string => `mlops-${fn}`;
export const parentOf = (s: GcpDeploySettings): string => `projects/${s.gcp.project}/locations/${s.gcp.region}`;
/** The full resource name of a function's Cloud Run service or Cloud Function. */
export const resourceName = (kind: 'services' | 'functions', fn: FunctionName, s: GcpDeploySettings): string =>
  `${parentOf(s)}/${kind}/${serviceId(fn)}`;
/** The environment a GCP function is given: the deploy's, with LOG_LEVEL at info unless set. */
export const gcpFunctionEnv = (s: GcpDeploySettings): Record<string, string> => ({
  ...s.functionEnv,
  LOG_LEVEL: s.functionEnv.LOG_LEVEL ?? 'info',
});

/**
 * The secret settings of a GCP function, each read from the Secret Manager secret its
 * `<NAME>_SECRET` names (the service account needs roles/secretmanager.secretAccessor on it).
 */
export const gcpSecretEnv = (s: GcpDeploySettings): { name: string; secret: string }[] =>
  Object.entries(s.secrets).map(([name, secret]) => ({ name, secret }));

/** An image in the Artifact Registry repository, at the tag being deployed. */
export const imageNamed = (image: string, s: GcpDeploySettings): string => `${s.gcp.imageRepo}/${image}:${s.gcp.imageTag}`;
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
