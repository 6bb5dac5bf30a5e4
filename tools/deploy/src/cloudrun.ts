/**
 * Cloud Run: the exact v2 Service requests and the Cloud Scheduler job that calls evaluate
 * (batch-score's Eventarc trigger is in eventarc.ts). `deployCloudRunService` sends them; everything
 * else only builds plain request objects, so a dry run prints what would be sent.
 */
import type { protos as runProtos } from '@google-cloud/run';
import type { protos as schedulerProtos } from '@google-cloud/scheduler';
import { FUNCTION_SPECS, type DeploySettings, type FunctionName } from './config.ts';

type Service = runProtos.google.cloud.run.v2.IService;
type TrafficTarget = runProtos.google.cloud.run.v2.ITrafficTarget;
export type CreateServiceRequest = runProtos.google.cloud.run.v2.ICreateServiceRequest;
export type UpdateServiceRequest = runProtos.google.cloud.run.v2.IUpdateServiceRequest;
export type SchedulerJob = schedulerProtos.google.cloud.scheduler.v1.IJob;
export type CreateSchedulerJobRequest = schedulerProtos.google.cloud.scheduler.v1.ICreateJobRequest;

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

export const serviceId = (fn: FunctionName): string => `mlops-${fn}`;
export const parentOf = (s: DeploySettings): string => `projects/${s.gcp.project}/locations/${s.gcp.region}`;
export const imageOf = (fn: FunctionName, s: DeploySettings): string => `${s.gcp.imageRepo}/mlops-${fn}:${s.gcp.imageTag}`;

/** Cloud Run's memory format: 2048 MiB → "2Gi". */
export function memoryLimit(mib: number): string {
  return mib % 1024 === 0 ? `${mib / 1024}Gi` : `${mib}Mi`;
}

export function trafficFor(canary: Canary | undefined): TrafficTarget[] {
  if (!canary) return [{ type: 'TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST', percent: 100 }];
  const targets: TrafficTarget[] = [{ type: 'TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION', revision: canary.revision, percent: canary.percent }];
  if (canary.percent < 100) targets.push({ type: 'TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST', percent: 100 - canary.percent, tag: 'canary' });
  return targets;
}

export function cloudRunService(fn: FunctionName, s: DeploySettings, canary?: Canary): Service {
  const spec = FUNCTION_SPECS[fn];
  const env = Object.entries({ ...s.functionEnv, LOG_LEVEL: s.functionEnv.LOG_LEVEL ?? 'info' }).map(([name, value]) => ({ name, value }));
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
          startupProbe: { httpGet: { path: fn === 'predict' || fn === 'batch-score' ? '/readyz' : '/healthz', port: 8080 }, periodSeconds: 5, failureThreshold: 60 },
        },
      ],
    },
    traffic: trafficFor(canary),
  };
}

export function createServiceRequest(fn: FunctionName, s: DeploySettings, canary?: Canary): CreateServiceRequest {
  return { parent: parentOf(s), serviceId: serviceId(fn), service: cloudRunService(fn, s, canary) };
}

export function updateServiceRequest(fn: FunctionName, s: DeploySettings, canary?: Canary): UpdateServiceRequest {
  return { service: { ...cloudRunService(fn, s, canary), name: `${parentOf(s)}/services/${serviceId(fn)}` } };
}

/** The run.app URL is only known after the first deploy (it carries the project number). */
export function evaluateUrl(s: DeploySettings, serviceUri?: string): string {
  return s.gcp.evaluateUrl ?? serviceUri ?? `https://${serviceId('evaluate')}-PROJECT_NUMBER.${s.gcp.region}.run.app`;
}

/** The Cloud Scheduler job: POST <evaluate>/v1/evaluate with an OIDC token for the functions' service account. */
export function schedulerJobRequest(s: DeploySettings, serviceUri?: string): CreateSchedulerJobRequest {
  const base = evaluateUrl(s, serviceUri);
  const job: SchedulerJob = {
    name: `${parentOf(s)}/jobs/mlops-evaluate`,
    description: 'Runs evaluate (accuracy, drift, retrain, canary review) on a schedule',
    schedule: s.gcp.schedule,
    timeZone: s.gcp.timeZone,
    attemptDeadline: { seconds: FUNCTION_SPECS.evaluate.timeoutSeconds },
    retryConfig: { retryCount: 1, minBackoffDuration: { seconds: 60 } },
    httpTarget: {
      uri: `${base}/v1/evaluate`,
      httpMethod: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: Buffer.from('{}').toString('base64'),
      // The audience is the service URL without the path: Cloud Run checks it against its own URL.
      oidcToken: { serviceAccountEmail: s.gcp.serviceAccount, audience: base },
    },
  };
  return { parent: parentOf(s), job };
}

/** The subset of ServicesClient used here, so tests can pass a fake. */
export interface ServicesApi {
  getService(req: { name: string }): Promise<[Service, ...unknown[]]>;
  createService(req: CreateServiceRequest): Promise<[{ promise(): Promise<[Service, ...unknown[]]> }, ...unknown[]]>;
  updateService(req: UpdateServiceRequest): Promise<[{ promise(): Promise<[Service, ...unknown[]]> }, ...unknown[]]>;
}

const NOT_FOUND = 5;
const isNotFound = (error: unknown) => typeof error === 'object' && error !== null && 'code' in error && error.code === NOT_FOUND;

/** get → create or update; waits for the long-running operation and returns the service (with its uri). */
export async function deployCloudRunService(client: ServicesApi, fn: FunctionName, s: DeploySettings, canary?: Canary): Promise<{ action: 'created' | 'updated'; service: Service }> {
  const name = `${parentOf(s)}/services/${serviceId(fn)}`;
  const exists = await client.getService({ name }).then(
    () => true,
    (error: unknown) => {
      if (isNotFound(error)) return false;
      throw error;
    },
  );
  if (!exists && canary) throw new Error(`--canary needs an existing service: ${name} does not exist yet`);
  const [operation] = exists ? await client.updateService(updateServiceRequest(fn, s, canary)) : await client.createService(createServiceRequest(fn, s, canary));
  const [service] = await operation.promise();
  return { action: exists ? 'updated' : 'created', service };
}
