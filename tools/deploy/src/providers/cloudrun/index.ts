/**
 * Cloud Run: per function a v2 Service (its image built from deploy/functions.Dockerfile), evaluate's
 * scheduler job and batch-score's Eventarc trigger. Also owns the GCP hand-off specs in deploy/gcp/.
 */
import { join } from 'node:path';
import { jsonText } from '@mlops/storage';
import type { FunctionName } from '../../config.ts';
import { toYaml } from '../../yaml.ts';
import {
  createTriggerUrl,
  defaultEventarcApi,
  deployEventarcTrigger,
  eventarcTrigger,
  updateTriggerUrl,
  type EventarcApi,
} from '../gcp/eventarc.ts';
import { applyInvoker, planInvoker } from '../gcp/invoker-steps.ts';
import type { IamApi } from '../gcp/invoker.ts';
import { functionUrl, imageOf, serviceId } from '../gcp/resources.ts';
import { applySchedulerJob, planSchedulerJob, schedulerJobRequest } from '../gcp/scheduler.ts';
import { gcpSettingsSchema, type GcpBlock, type GcpDeploySettings } from '../gcp/settings.ts';
import { trainingJob } from '../gcp/training-jobs.ts';
import type { DeployProvider, DeployRun } from '../types.ts';
import { applyTrainerImages, planTrainerImages, trainerJobImages, type JobsApi } from '../gcp/trainer-image.ts';
import {
  createServiceRequest,
  deployCloudRunService,
  revisionRollout,
  shiftServiceTraffic,
  trafficLine,
  updateServiceRequest,
  type RevisionRollout,
  type ServicesApi,
} from './service.ts';

export interface CloudRunClients {
  services: ServicesApi;
  eventarc: EventarcApi;
  iam: IamApi;
  jobs: JobsApi;
}

type CloudRunRun = DeployRun<GcpDeploySettings, CloudRunClients>;

/** build.sh, create-service.json (printed) and update-service.json; returns the function's folder and the update's traffic. */
async function writeServiceRequests(
  run: CloudRunRun,
  fn: FunctionName,
  rollout: RevisionRollout | undefined,
): Promise<{ dir: string; traffic: string }> {
  const dir = join(run.outDir, fn);
  const image = imageOf(fn, run.settings);
  await run.write(
    join(dir, 'build.sh'),
    `docker build -f deploy/functions.Dockerfile --build-arg FUNCTION=${fn} -t ${image} . && docker push ${image}\n`,
  );
  await run.write(join(dir, 'create-service.json'), jsonText(createServiceRequest(run.spec(fn), run.settings, rollout)));
  // The revision serving now is read when the update is sent; a file cannot know it.
  const update = updateServiceRequest(run.spec(fn), run.settings, rollout, undefined, true);
  await run.write(join(dir, 'update-service.json'), jsonText(update), { show: false });
  return { dir, traffic: trafficLine(update.service?.traffic ?? []) };
}

/** batch-score's trigger, written beside its service requests. */
async function writeEventarcTrigger(run: CloudRunRun, dir: string) {
  const trigger = eventarcTrigger(run.settings);
  await run.write(join(dir, 'eventarc-trigger.json'), jsonText(trigger));
  return trigger;
}

async function planEventarcTrigger(run: CloudRunRun, dir: string): Promise<void> {
  const trigger = await writeEventarcTrigger(run, dir);
  run.log(
    `would POST ${createTriggerUrl(trigger)} with .trigger (above), or PATCH ${updateTriggerUrl(trigger)} when it exists, then poll the operation`,
  );
  run.action('eventarc batch-score: create|update');
}

async function applyEventarcTrigger(run: CloudRunRun, dir: string): Promise<void> {
  const trigger = await writeEventarcTrigger(run, dir);
  const { action } = await deployEventarcTrigger(run.clients.eventarc ?? (await defaultEventarcApi()), trigger);
  run.log(`Eventarc trigger: ${action} ${trigger.trigger.name}`);
  run.action(`eventarc batch-score: ${action}`);
}

export const cloudRunProvider: DeployProvider<'cloudrun', GcpBlock, CloudRunClients> = {
  name: 'cloudrun',
  // The image builds this host inside deploy/functions.Dockerfile; this tool does not bundle for Cloud Run.
  bundleHost: 'node',
  splitsTraffic: true,
  // The container's /tmp (MLOPS_CACHE_DIR's default) is in memory.
  modelCache: 'memory',
  storeScheme: 'gs',
  requiredEnv: ['GCP_PROJECT', 'GCP_PROJECT_NUMBER', 'GCP_REGION', 'GCP_SERVICE_ACCOUNT', 'GCP_IMAGE_REPO'],
  settingsSchema: gcpSettingsSchema,
  wiresCallerAuth: true,
  // A trainer image with no job to run it is found before any function is deployed.
  validate: (settings) => void trainerJobImages(settings),

  imagesFor: (functions) => functions.map(serviceId),

  async plan(run) {
    for (const fn of run.functions) {
      const rollout = run.rollout && revisionRollout(fn, run.rollout);
      const { dir, traffic } = await writeServiceRequests(run, fn, rollout);
      run.log(`would call ServicesClient.getService, then createService (above) or updateService (${join(dir, 'update-service.json')})`);
      run.action(`cloudrun ${fn}: get → create|update`);
      run.live({
        name: fn,
        action: 'would create or update',
        image: imageOf(fn, run.settings),
        live: rollout?.revision,
        url: functionUrl(fn, run.settings),
        traffic,
      });
      await planInvoker(run, fn, dir);
      if (fn === 'evaluate') await planSchedulerJob(run, dir);
      if (fn === 'batch-score') await planEventarcTrigger(run, dir);
    }
    planTrainerImages(run);
  },

  async apply(run) {
    const { ServicesClient, JobsClient } = await import('@google-cloud/run');
    for (const fn of run.functions) {
      const rollout = run.rollout && revisionRollout(fn, run.rollout);
      const { dir } = await writeServiceRequests(run, fn, rollout);
      const client: ServicesApi = run.clients.services ?? (new ServicesClient() as unknown as ServicesApi);
      const { action, service, traffic } = await deployCloudRunService(client, run.spec(fn), run.settings, rollout);
      const serviceUri = service.uri ?? undefined;
      run.log(`${fn}: ${action} ${service.name ?? ''} ${serviceUri ?? ''}`);
      run.action(`cloudrun ${fn}: ${action}`);
      run.live({
        name: fn,
        action,
        image: imageOf(fn, run.settings),
        live: service.latestReadyRevision ?? rollout?.revision,
        url: serviceUri,
        traffic: trafficLine(traffic),
      });
      await applyInvoker(run, fn, dir, run.clients.iam ?? (new ServicesClient() as unknown as IamApi));
      if (fn === 'evaluate') await applySchedulerJob(run, dir);
      if (fn === 'batch-score') await applyEventarcTrigger(run, dir);
    }
    await applyTrainerImages(run, async () => run.clients.jobs ?? (new JobsClient() as unknown as JobsApi));
  },

  async shiftTraffic({ settings, clients, fn, to, percent, log }) {
    const { ServicesClient } = await import('@google-cloud/run');
    const client: ServicesApi = clients.services ?? (new ServicesClient() as unknown as ServicesApi);
    const { service, traffic } = await shiftServiceTraffic(client, fn, settings, to, percent);
    const line = trafficLine(traffic);
    log(`${fn}: traffic ${line}`);
    return { name: fn, action: 'traffic', live: traffic[0]?.revision ?? undefined, url: service.uri ?? undefined, traffic: line };
  },

  referenceSpecs(s) {
    const trigger = eventarcTrigger(s);
    const header = (what: string) =>
      `${what}\nGenerated by tools/deploy (tsx tools/deploy/src/main.ts specs) with placeholders: ${s.placeholders.join(', ')}.`;
    return {
      'deploy/gcp/training-job.yaml': toYaml(
        trainingJob(s, { gpu: false }),
        header('Cloud Run Job for the trainer (CPU): gcloud run jobs replace deploy/gcp/training-job.yaml'),
      ),
      'deploy/gcp/training-job-gpu.yaml': toYaml(
        trainingJob(s, { gpu: true }),
        header('Cloud Run Job for the trainer on an NVIDIA L4: gcloud run jobs replace deploy/gcp/training-job-gpu.yaml'),
      ),
      'deploy/gcp/scheduler-evaluate.yaml': toYaml(
        schedulerJobRequest(s),
        header('Cloud Scheduler CreateJobRequest: POST evaluate /v1/evaluate with an OIDC token'),
      ),
      'deploy/gcp/eventarc-batch-score.yaml': toYaml(
        trigger,
        header(
          `Eventarc CreateTriggerRequest: GCS finalize → batch-score. nx deploy sends it to the REST API:\nPOST ${createTriggerUrl(trigger)} (body: trigger),\nor PATCH ${updateTriggerUrl(trigger)} when it exists.`,
        ),
      ),
    };
  },
};
