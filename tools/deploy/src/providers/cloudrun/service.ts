/**
 * Cloud Run: the exact v2 Service requests (evaluate's scheduler job and batch-score's Eventarc
 * trigger are in ../gcp). `deployCloudRunService` sends them; everything else only builds plain
 * request objects, so a dry run prints what would be sent.
 */
import type { protos as runProtos } from '@google-cloud/run';
import type { FunctionName, FunctionSpec } from '../../config.ts';
import { gcpFunctionEnv, gcpSecretEnv, imageOf, isNotFound, memoryLimit, parentOf, resourceName, serviceId } from '../gcp/resources.ts';
import type { GcpDeploySettings } from '../gcp/settings.ts';
import type { Rollout } from '../types.ts';

export type Service = runProtos.google.cloud.run.v2.IService;
type TrafficTarget = runProtos.google.cloud.run.v2.ITrafficTarget;
export type CreateServiceRequest = runProtos.google.cloud.run.v2.ICreateServiceRequest;
export type UpdateServiceRequest = runProtos.google.cloud.run.v2.IUpdateServiceRequest;

/**
 * How a deploy's new revision takes traffic. Without one (a deploy by hand) the latest revision
 * takes all of it; with one the revision is named, so it can be tagged and given a share, and the
 * revision that served before keeps the rest under the tag `previous` (at 0% it is still reachable
 * at its tag's URL, to compare against or to shift back to).
 */
export interface RevisionRollout extends Rollout {
  /** The new revision's name: `<service>-<tag>-<time>`, unique per deploy. */
  revision: string;
}

export const PREVIOUS_TAG = 'previous';
const TAG = /^[a-z][a-z0-9-]{2,19}$/;

/** Names the new revision: Cloud Run wants revision names prefixed by the service's, unique per service. */
export function revisionRollout(fn: FunctionName, rollout: Rollout, now: number = Date.now()): RevisionRollout {
  if (!(Number.isInteger(rollout.percent) && rollout.percent >= 1 && rollout.percent <= 100))
    throw new Error(`--traffic is the new revision's share in percent, 1–100 (got ${rollout.percent})`);
  if (rollout.tag !== undefined && (!TAG.test(rollout.tag) || rollout.tag === PREVIOUS_TAG))
    throw new Error(
      `--tag must be 3–20 lowercase letters, digits and dashes, starting with a letter, and not "${PREVIOUS_TAG}" (got "${rollout.tag}")`,
    );
  const suffix = now.toString(36).slice(-6);
  return { ...rollout, revision: [serviceId(fn), rollout.tag, suffix].filter(Boolean).join('-') };
}

/** The revision serving the most traffic now (the one a new revision's share is taken from). */
export function servingRevision(service: Service | undefined): string | undefined {
  const statuses = [...(service?.trafficStatuses ?? [])].filter((t) => t.revision && (t.percent ?? 0) > 0);
  statuses.sort((a, b) => (b.percent ?? 0) - (a.percent ?? 0));
  return statuses[0]?.revision ?? service?.latestReadyRevision ?? undefined;
}

/** Stands in for the serving revision in a dry run, which reads nothing. */
export const SERVING_PLACEHOLDER = 'SERVING_REVISION';

/**
 * Where requests go once the new revision exists. A new service has no other revision: it takes all.
 * A re-run of a deploy (its tag already on a revision) puts the new revision in that one's place
 * and keeps the rest as it is, so `previous` stays the rollback point. Otherwise the new revision
 * takes its share and the revision serving the most now keeps the rest, tagged previous.
 */
export function trafficFor(rollout: RevisionRollout | undefined, existing: Service | undefined, dryRun = false): TrafficTarget[] {
  if (!rollout) return [{ type: 'TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST', percent: 100 }];
  const statuses = existing?.trafficStatuses ?? [];
  const rerun = rollout.tag === undefined ? undefined : statuses.find((t) => t.tag === rollout.tag);
  if (rerun)
    return statuses.map((t) => ({
      type: 'TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION',
      revision: t === rerun ? rollout.revision : (t.revision ?? undefined),
      percent: t.percent ?? 0,
      ...(t.tag ? { tag: t.tag } : {}),
    }));
  const serving = dryRun ? SERVING_PLACEHOLDER : servingRevision(existing);
  return splitTraffic(rollout.revision, rollout.tag, serving === undefined ? 100 : rollout.percent, serving);
}

/** `percent` to `revision` (with its tag), the rest to `other` tagged previous. */
function splitTraffic(revision: string, tag: string | undefined, percent: number, other: string | undefined): TrafficTarget[] {
  const targets: TrafficTarget[] = [{ type: 'TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION', revision, percent, ...(tag ? { tag } : {}) }];
  if (other === undefined || other === revision) {
    if (percent < 100) throw new Error(`${revision} cannot take ${percent}% alone: no other revision serves the rest`);
    return targets;
  }
  targets.push({ type: 'TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION', revision: other, percent: 100 - percent, tag: PREVIOUS_TAG });
  return targets;
}

/** One line for the summary: `sha-1a2b3c4 10% · previous 90%`. */
export function trafficLine(targets: readonly TrafficTarget[]): string {
  return targets.map((t) => `${t.tag ?? t.revision ?? 'latest'} ${t.percent ?? 0}%`).join(' · ');
}

/** `spec` is the function's, sized for the model (DeployRun.spec). */
export function cloudRunService(spec: FunctionSpec, s: GcpDeploySettings, traffic: TrafficTarget[], rollout?: RevisionRollout): Service {
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
      ...(rollout ? { revision: rollout.revision } : {}),
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
    traffic,
  };
}

export function createServiceRequest(spec: FunctionSpec, s: GcpDeploySettings, rollout?: RevisionRollout): CreateServiceRequest {
  const service = cloudRunService(spec, s, trafficFor(rollout, undefined), rollout);
  return { parent: parentOf(s), serviceId: serviceId(spec.name), service };
}

/** `existing` is the service as read (whose traffic the new revision joins); `dryRun` reads nothing and shows a placeholder. */
export function updateServiceRequest(
  spec: FunctionSpec,
  s: GcpDeploySettings,
  rollout: RevisionRollout | undefined,
  existing: Service | undefined,
  dryRun = false,
): UpdateServiceRequest {
  const service = cloudRunService(spec, s, trafficFor(rollout, existing, dryRun), rollout);
  return { service: { ...service, name: resourceName('services', spec.name, s) } };
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
  rollout?: RevisionRollout,
): Promise<{ action: 'created' | 'updated'; service: Service; traffic: TrafficTarget[] }> {
  const existing = await getServiceIfAny(client, resourceName('services', spec.name, s));
  const request = existing ? updateServiceRequest(spec, s, rollout, existing) : createServiceRequest(spec, s, rollout);
  const [operation] = existing ? await client.updateService(request) : await client.createService(request as CreateServiceRequest);
  const [service] = await operation.promise();
  return { action: existing ? 'updated' : 'created', service, traffic: request.service?.traffic ?? [] };
}

async function getServiceIfAny(client: ServicesApi, name: string): Promise<Service | undefined> {
  return client.getService({ name }).then(
    ([service]) => service,
    (error: unknown) => {
      if (isNotFound(error)) return undefined;
      throw error;
    },
  );
}

/**
 * Moves `percent` of the service's traffic to the revision `to` names (a tag, or a revision), the
 * rest to the revision serving the most now, besides it. The template goes back as read but
 * unnamed: Cloud Run refuses a named revision whose configuration reads back differently, and an
 * unchanged unnamed template makes no revision (at worst an idle one: traffic names revisions).
 */
export async function shiftServiceTraffic(
  client: ServicesApi,
  fn: FunctionName,
  s: GcpDeploySettings,
  to: string,
  percent: number,
): Promise<{ service: Service; traffic: TrafficTarget[] }> {
  const name = resourceName('services', fn, s);
  const existing = await getServiceIfAny(client, name);
  if (!existing) throw new Error(`${name} does not exist: deploy it first`);
  const statuses = existing.trafficStatuses ?? [];
  const target = statuses.find((t) => t.tag === to)?.revision ?? (to.startsWith(`${serviceId(fn)}-`) ? to : undefined);
  if (!target)
    throw new Error(
      `${name} has no revision tagged "${to}" (tags: ${statuses.flatMap((t) => (t.tag ? [t.tag] : [])).join(', ') || 'none'})`,
    );
  const others = { ...existing, trafficStatuses: statuses.filter((t) => t.revision !== target) };
  const tag = statuses.find((t) => t.revision === target && t.tag && t.tag !== PREVIOUS_TAG)?.tag ?? undefined;
  const traffic = splitTraffic(target, tag, percent, servingRevision(others));
  const template = { ...existing.template, revision: '' };
  const [operation] = await client.updateService({ service: { ...existing, template, traffic } });
  const [service] = await operation.promise();
  return { service, traffic };
}
