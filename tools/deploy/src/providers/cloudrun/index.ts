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
import { imageOf } from '../gcp/resources.ts';
import { applySchedulerJob, planSchedulerJob, schedulerJobRequest } from '../gcp/scheduler.ts';
import { gcpSettingsSchema, type GcpBlock, type GcpDeploySettings } from '../gcp/settings.ts';
import { trainingJob } from '../gcp/training-jobs.ts';
import type { DeployProvider, DeployRun } from '../types.ts';
import {
  createServiceRequest,
  deployCloudRunService,
  parseCanary,
  updateServiceRequest,
  type Canary,
  type ServicesApi,
} from './service.ts';

export interface CloudRunClients {
  services: ServicesApi;
  eventarc: EventarcApi;
  iam: IamApi;
}

type CloudRunRun = DeployRun<GcpDeploySettings, CloudRunClients>;

/** build.sh, create-service.json (printed) and update-service.json; returns the function's folder. */
async function writeServiceRequests(run: CloudRunRun, fn: FunctionName, canary: Canary | undefined): Promise<string> {
  const dir = join(run.outDir, fn);
  const image = imageOf(fn, run.settings);
  await run.write(
    join(dir, 'build.sh'),
    `docker build -f deploy/functions.Dockerfile --build-arg FUNCTION=${fn} -t ${image} . && docker push ${image}\n`,
  );
  await run.write(join(dir, 'create-service.json'), jsonText(createServiceRequest(run.spec(fn), run.settings, canary)));
  await run.write(join(dir, 'update-service.json'), jsonText(updateServiceRequest(run.spec(fn), run.settings, canary)), {
    show: false,
  });
  return dir;
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

  async plan(run) {
    const canary = run.canary ? parseCanary(run.canary) : undefined;
    for (const fn of run.functions) {
      const dir = await writeServiceRequests(run, fn, canary);
      run.log(`would call ServicesClient.getService, then createService (above) or updateService (${join(dir, 'update-service.json')})`);
      run.action(`cloudrun ${fn}: get → create|update`);
      await planInvoker(run, fn, dir);
      if (fn === 'evaluate') await planSchedulerJob(run, dir);
      if (fn === 'batch-score') await planEventarcTrigger(run, dir);
    }
  },

  async apply(run) {
    const canary = run.canary ? parseCanary(run.canary) : undefined;
    for (const fn of run.functions) {
      const dir = await writeServiceRequests(run, fn, canary);
      const { ServicesClient } = await import('@google-cloud/run');
      const client: ServicesApi = run.clients.services ?? (new ServicesClient() as unknown as ServicesApi);
      const { action, service } = await deployCloudRunService(client, run.spec(fn), run.settings, canary);
      const serviceUri = service.uri ?? undefined;
      run.log(`${fn}: ${action} ${service.name ?? ''} ${serviceUri ?? ''}`);
      run.action(`cloudrun ${fn}: ${action}`);
      await applyInvoker(run, fn, dir, run.clients.iam ?? (new ServicesClient() as unknown as IamApi));
      if (fn === 'evaluate') await applySchedulerJob(run, dir);
      if (fn === 'batch-score') await applyEventarcTrigger(run, dir);
    }
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
