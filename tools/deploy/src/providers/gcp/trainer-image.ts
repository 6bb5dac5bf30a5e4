/**
 * The trainer's Cloud Run Jobs (CLOUD_RUN_JOB, CLOUD_RUN_GPU_JOB: the jobs libs/jobs launches)
 * take the trainer image built at the deployed commit, by digest. The jobs themselves are created
 * once from deploy/gcp/training-job*.yaml; a deploy only swaps the image, keeping the rest.
 */
import type { protos as runProtos } from '@google-cloud/run';
import { TRAINER_IMAGES } from '../../images.ts';
import type { DeployRun } from '../types.ts';
import type { GcpDeploySettings } from './settings.ts';

type Job = runProtos.google.cloud.run.v2.IJob;

/** The subset of JobsClient used here, so tests can pass a fake. */
export interface JobsApi {
  getJob(req: { name: string }): Promise<[Job, ...unknown[]]>;
  updateJob(req: { job: Job }): Promise<[{ promise(): Promise<[Job, ...unknown[]]> }, ...unknown[]]>;
}

interface TrainerJobImage {
  /** mlops-trainer-cpu or mlops-trainer-gpu. */
  image: string;
  ref: string;
  job: string;
}

/**
 * Each trainer image the deploy was given, with the job that runs it. Only a deploy whose
 * functions launch Cloud Run jobs (JOBS_LAUNCHER=cloudrun) has one; the CPU job must then be
 * named, the GPU job may be absent (no GPU training, that image unused). The job is where
 * libs/jobs looks for it: CLOUD_RUN_PROJECT and CLOUD_RUN_REGION, by default the deploy's.
 */
export function trainerJobImages(s: GcpDeploySettings): TrainerJobImage[] {
  const env = s.functionEnv;
  if (env.JOBS_LAUNCHER !== 'cloudrun') return [];
  const parent = `projects/${env.CLOUD_RUN_PROJECT ?? s.gcp.project}/locations/${env.CLOUD_RUN_REGION ?? s.gcp.region}`;
  const cpu = s.images[TRAINER_IMAGES.cpu];
  const gpu = s.images[TRAINER_IMAGES.gpu];
  if (cpu !== undefined && env.CLOUD_RUN_JOB === undefined)
    throw new Error(`the images name ${TRAINER_IMAGES.cpu} and JOBS_LAUNCHER is cloudrun, but CLOUD_RUN_JOB names no job to run it`);
  return [
    ...(cpu !== undefined && env.CLOUD_RUN_JOB
      ? [{ image: TRAINER_IMAGES.cpu, ref: cpu, job: `${parent}/jobs/${env.CLOUD_RUN_JOB}` }]
      : []),
    ...(gpu !== undefined && env.CLOUD_RUN_GPU_JOB
      ? [{ image: TRAINER_IMAGES.gpu, ref: gpu, job: `${parent}/jobs/${env.CLOUD_RUN_GPU_JOB}` }]
      : []),
  ];
}

export function planTrainerImages(run: DeployRun<GcpDeploySettings>): void {
  for (const { image, ref, job } of trainerJobImages(run.settings)) {
    run.log(`would call JobsClient.getJob(${job}), then updateJob with its container's image set to ${ref}`);
    run.action(`job ${image}: image`);
    run.live({ name: image, action: 'would set the image', image: ref, live: job });
  }
}

export async function applyTrainerImages(run: DeployRun<GcpDeploySettings>, api: () => Promise<JobsApi>): Promise<void> {
  const updates = trainerJobImages(run.settings);
  if (updates.length === 0) return;
  const client = await api();
  for (const { image, ref, job } of updates) {
    const [current] = await client.getJob({ name: job });
    const container = current.template?.template?.containers?.[0];
    if (!container) throw new Error(`${job} has no container to give the image ${ref}`);
    container.image = ref;
    // The etag from the get: a job changed in between fails the update instead of being overwritten.
    const [operation] = await client.updateJob({ job: current });
    await operation.promise();
    run.log(`${image}: ${job} now runs ${ref}`);
    run.action(`job ${image}: image`);
    run.live({ name: image, action: 'image set', image: ref, live: job });
  }
}
