/**
 * Cloud Functions (2nd gen): the v2 CreateFunctionRequest for a function whose source is the
 * tools/build `cloud-function` bundle zipped into a storage object. Its package.json starts
 * `functions-framework --target=<name>`, so the entry point is the function's own name.
 */
import type { protos } from '@google-cloud/functions';
import type { FunctionName, FunctionSpec } from '../../config.ts';
import { gcpFunctionEnv, gcpSecretEnv, isNotFound, memoryLimit, parentOf, resourceName, serviceId } from '../gcp/resources.ts';
import type { CloudFunctionsSettings } from './settings.ts';

export type CloudFunction = protos.google.cloud.functions.v2.IFunction;
export type CreateFunctionRequest = protos.google.cloud.functions.v2.ICreateFunctionRequest;
export type UpdateFunctionRequest = protos.google.cloud.functions.v2.IUpdateFunctionRequest;

export interface SourceObject {
  bucket: string;
  object: string;
}

/** Content-addressed, so a rebuild with no change reuses the object and a change never overwrites a live one. */
export const sourceObjectFor = (fn: FunctionName, s: CloudFunctionsSettings, sha256: string): SourceObject => ({
  bucket: s.sourceBucket ?? s.storeLocation.bucket,
  object: `${s.storeLocation.prefix}deploy/functions/${fn}/${sha256.slice(0, 16)}.zip`,
});

/** `spec` is the function's, sized for the model (DeployRun.spec). */
export function cloudFunction(spec: FunctionSpec, s: CloudFunctionsSettings, source: SourceObject): CloudFunction {
  const fn = spec.name;
  return {
    name: resourceName('functions', fn, s),
    description: `mlops ${fn}`,
    environment: 'GEN_2',
    labels: { app: 'mlops', function: fn },
    buildConfig: {
      runtime: 'nodejs20',
      entryPoint: fn,
      source: { storageSource: { bucket: source.bucket, object: source.object } },
      // Buildpacks would otherwise run `npm run build`; the bundle is already built.
      environmentVariables: { GOOGLE_NODE_RUN_SCRIPTS: '' },
    },
    serviceConfig: {
      availableMemory: memoryLimit(spec.memoryMiB),
      availableCpu: String(spec.cpu),
      timeoutSeconds: spec.timeoutSeconds,
      minInstanceCount: 0,
      maxInstanceCount: spec.maxInstances,
      maxInstanceRequestConcurrency: spec.concurrency,
      environmentVariables: gcpFunctionEnv(s, fn),
      secretEnvironmentVariables: gcpSecretEnv(s).map(({ name, secret }) => ({
        key: name,
        projectId: s.gcp.project,
        secret,
        version: 'latest',
      })),
      serviceAccountEmail: s.gcp.serviceAccount,
      ingressSettings: 'ALLOW_ALL',
      allTrafficOnLatestRevision: true,
    },
    ...(fn === 'batch-score'
      ? {
          eventTrigger: {
            triggerRegion: s.gcp.region,
            eventType: 'google.cloud.storage.object.v1.finalized',
            eventFilters: [{ attribute: 'bucket', value: s.storeLocation.bucket }],
            serviceAccountEmail: s.gcp.serviceAccount,
            retryPolicy: 'RETRY_POLICY_RETRY',
          },
        }
      : {}),
  };
}

export function createFunctionRequest(spec: FunctionSpec, s: CloudFunctionsSettings, source: SourceObject): CreateFunctionRequest {
  return { parent: parentOf(s), functionId: serviceId(spec.name), function: cloudFunction(spec, s, source) };
}

export function updateFunctionRequest(spec: FunctionSpec, s: CloudFunctionsSettings, source: SourceObject): UpdateFunctionRequest {
  return { function: cloudFunction(spec, s, source) };
}

/** The subset of the v2 FunctionServiceClient used here. */
export interface FunctionsApi {
  getFunction(req: { name: string }): Promise<[CloudFunction, ...unknown[]]>;
  createFunction(req: CreateFunctionRequest): Promise<[{ promise(): Promise<[CloudFunction, ...unknown[]]> }, ...unknown[]]>;
  updateFunction(req: UpdateFunctionRequest): Promise<[{ promise(): Promise<[CloudFunction, ...unknown[]]> }, ...unknown[]]>;
}

export async function deployCloudFunction(
  client: FunctionsApi,
  spec: FunctionSpec,
  s: CloudFunctionsSettings,
  source: SourceObject,
): Promise<{ action: 'created' | 'updated'; fn: CloudFunction }> {
  const name = resourceName('functions', spec.name, s);
  const exists = await client.getFunction({ name }).then(
    () => true,
    (error: unknown) => {
      if (isNotFound(error)) return false;
      throw error;
    },
  );
  const [operation] = exists
    ? await client.updateFunction(updateFunctionRequest(spec, s, source))
    : await client.createFunction(createFunctionRequest(spec, s, source));
  const [deployed] = await operation.promise();
  return { action: exists ? 'updated' : 'created', fn: deployed };
}
