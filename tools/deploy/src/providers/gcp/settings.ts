/** The `gcp` settings block both GCP providers (Cloud Run, Cloud Functions) read from the environment. */
import { z } from 'zod';
import { envValue, type DeploySettings } from '../../config.ts';

export interface GcpSettings {
  project: string;
  /** In Cloud Run's deterministic URLs (https://<service>-<number>.<region>.run.app), which are the OIDC audiences. */
  projectNumber: string;
  region: string;
  serviceAccount: string;
  /** Artifact Registry repository the images are pushed to, e.g. europe-west1-docker.pkg.dev/p/mlops. */
  imageRepo: string;
  imageTag: string;
  /** URL the scheduler calls (default: the evaluate service's URL read after its deploy). */
  evaluateUrl?: string;
  /** evaluate's Cloud Scheduler cron (unix cron). */
  schedule: string;
  timeZone: string;
}

export type GcpBlock = { gcp: GcpSettings };
export type GcpDeploySettings = DeploySettings & GcpBlock;

/** The variables behind GcpSettings; a provider adds its own to them (see cloudfunctions). */
export const gcpEnvShape = {
  GCP_PROJECT: envValue(),
  GCP_PROJECT_NUMBER: envValue(),
  GCP_REGION: envValue(),
  GCP_SERVICE_ACCOUNT: envValue(),
  GCP_IMAGE_REPO: envValue(),
  /** Image tag to deploy (default latest). */
  IMAGE_TAG: envValue(),
  EVALUATE_URL: envValue(),
  EVALUATE_SCHEDULE: envValue(),
  SCHEDULER_TIME_ZONE: envValue(),
};

/** The defaults of GCP_PROJECT and GCP_REGION are the placeholders a dry run shows; the rest derive from them. */
export function gcpSettingsFrom(e: z.output<z.ZodObject<typeof gcpEnvShape>>): GcpSettings {
  const project = e.GCP_PROJECT ?? 'PROJECT_ID';
  const region = e.GCP_REGION ?? 'REGION';
  return {
    project,
    projectNumber: e.GCP_PROJECT_NUMBER ?? 'PROJECT_NUMBER',
    region,
    serviceAccount: e.GCP_SERVICE_ACCOUNT ?? `mlops-functions@${project}.iam.gserviceaccount.com`,
    imageRepo: e.GCP_IMAGE_REPO ?? `${region}-docker.pkg.dev/${project}/mlops`,
    imageTag: e.IMAGE_TAG ?? 'latest',
    ...(e.EVALUATE_URL ? { evaluateUrl: e.EVALUATE_URL } : {}),
    // Hourly: a window of a day re-read every hour catches a shift within the hour it shows up.
    schedule: e.EVALUATE_SCHEDULE ?? '0 * * * *',
    timeZone: e.SCHEDULER_TIME_ZONE ?? 'Etc/UTC',
  };
}

export const gcpSettingsSchema = z.object(gcpEnvShape).transform((e): GcpBlock => ({ gcp: gcpSettingsFrom(e) }));
