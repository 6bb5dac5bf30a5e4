/**
 * Cloud Run: the exact v2 Service requests (evaluate's scheduler job and batch-score's Eventarc
 * trigger are in ../gcp). `deployCloudRunService` sends them; everything else only builds plain
 * request objects, so a dry run prints what would be sent.
 */
import type { protos as runProtos } from '@google-cloud/run';
import type { FunctionSpec } from '../../config.ts';
import { gcpFunctionEnv, gcpSecretEnv, imageOf, isNotFound, memoryLimit, parentOf, resourceName, serviceId } from '../gcp/resources.ts';
import type { GcpDeploySettings } from '../gcp/settings.ts';

export type Service = runProtos.google.cloud.run.v2.IService;
type TrafficTarget = runProtos.google.cloud.run.v2.ITrafficTarget;
export type CreateServiceRequest = runProtos.google.cloud.run.v2.ICreateServiceRequest;
export type UpdateServiceRequest = runProtos.google.cloud.run.v2.IUpdateServiceRequest;

export interface Canary {
  /** The revision named on the command line (`--canary <revision>=<percent>`). */
  revision: string;
  /** Its share; the revision this deploy creates (LATEST) gets the rest. */
  percent: number;
}

/** `stable-00007-abc=90` → 90% stays on that revision, 10% goes to the new one (gcloud's --to-revisions reading). */
export function parseCanary(text: string): Canary {
  const match = /^([a-z][a-z0-9-]{0,62})=(\d{1,3})$/.exec(text.trim());
  const percent = Number(match?.[2]);
  if (!match?.[1] || !(percent >= 0 && percent <= 100)) {
    throw new Error(`--canary must be <revision>=<percent> with 0 ≤ percent ≤ 100 (got "${text}")`);
  }
  return { revision: match[1], percent };
}

export function trafficFor(canary: Canary | undefined): TrafficTarget[] {
  if (!canary) return [{ type: 'TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST', percent: 100 }];
  const targets: TrafficTarget[] = [
    { type: 'TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION', revision: canary.revision, percent: canary.percent },
  ];
  if (canary.percent < 100) targets.push({ type: 'TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST', percent: 100 - canary.percent, tag: 'canary' });
  return targets;
}

/** `spec` is the function's, sized for the model (DeployRun.spec). */
export function cloudRunService(spec: FunctionSpec, s: GcpDeploySettings, canary?: Canary): Service {
  const fn = spec.name;
  const env = [
    ...Object.entries(gcpFunctionEnv(s, fn)).map(([name, value]) => ({ name, value })),
    ...gcpSecretEnv(s).map(({ name, secret }) => ({ name, valueSource: { secretKeyRef: { secret, version: 'latest' } } })),
  ];
  return {
    labels: { app: 'mlops', function: fn },
    // evaluate, retrain-trigger and promote are called by Scheduler/each other with OIDC tokens; predict
    // is public behind its own API; all stay on the default ingress and rely on IAM for the control plane.
    ingress: 'INGRESS_TRAFFIC_ALL',
    template: {
      serviceAccount: s.gcp.serviceAccount,
      timeout: { seconds: spec.timeoutSeconds },
      maxInstanceRequestConcurrency: spec.concurrency,
      scaling: { minInstanceCount: 0, maxInstanceCount: spec.maxInstances },
      containers: [
        {
          name: fn,
          image: imageOf(fn, s),
          ports: [{ name: 'http1', containerPort: 8080 }],
          env,
          resources: {
            limits: { cpu: String(spec.cpu), memory: memoryLimit(spec.memoryMiB) },
            // CPU only during requests: scale-to-zero pricing; the model is loaded before readiness.
            cpuIdle: true,
            startupCpuBoost: true,
          },
          startupProbe: {
            httpGet: { path: fn === 'predict' || fn === 'batch-score' ? '/readyz' : '/healthz', port: 8080 },
            periodSeconds: 5,
            failureThreshold: 60,
          },
        },
      ],
    },
    traffic: trafficFor(canary),
  };
}

export function createServiceRequest(spec: FunctionSpec, s: GcpDeploySettings, canary?: Canary): CreateServiceRequest {
  return { parent: parentOf(s), serviceId: serviceId(spec.name), service: cloudRunService(spec, s, canary) };
}

export function updateServiceRequest(spec: FunctionSpec, s: GcpDeploySettings, canary?: Canary): UpdateServiceRequest {
  return { service: { ...cloudRunService(spec, s, canary), name: resourceName('services', spec.name, s) } };
}

/** The subset of ServicesClient used here, so tests can pass a fake. */
export interface ServicesApi {
  getService(req: { name: string }): Promise<[Service, ...unknown[]]>;
  createService(req: CreateServiceRequest): Promise<[{ promise(): Promise<[Service, ...unknown[]]> }, ...unknown[]]>;
  updateService(req: UpdateServiceRequest): Promise<[{ promise(): Promise<[Service, ...unknown[]]> }, ...unknown[]]>;
}

/** get → create or update; waits for the long-running operation and returns the service (with its uri). */
export async function deployCloudRunService(
  client: ServicesApi,
  spec: FunctionSpec,
  s: GcpDeploySettings,
  canary?: Canary,
): Promise<{ action: 'created' | 'updated'; service: Service }> {
  const name = resourceName('services', spec.name, s);
  const exists = await client.getService({ name }).then(
    () => true,
    (error: unknown) => {
      if (isNotFound(error)) return false;
      throw error;
    },
  );
  if (!exists && canary) throw new Error(`--canary needs an existing service: ${name} does not exist yet`);
  const [operation] = exists
    ? await client.updateService(updateServiceRequest(spec, s, canary))
    : await client.createService(createServiceRequest(spec, s, canary));
  const [service] = await operation.promise();
  return { action: exists ? 'updated' : 'created', service };
}
