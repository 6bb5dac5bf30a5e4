/**
 * evaluate's Cloud Scheduler job (POST <evaluate>/v1/evaluate with an OIDC token), which both GCP
 * providers create next to the evaluate function.
 */
import { join } from 'node:path';
import type { protos as schedulerProtos } from '@google-cloud/scheduler';
import { jsonText } from '@mlops/storage';
import { FUNCTION_SPECS } from '../../config.ts';
import type { DeployRun } from '../types.ts';
import { functionUrl, parentOf } from './resources.ts';
import type { GcpDeploySettings } from './settings.ts';

export type SchedulerJob = schedulerProtos.google.cloud.scheduler.v1.IJob;
export type CreateSchedulerJobRequest = schedulerProtos.google.cloud.scheduler.v1.ICreateJobRequest;

/** evaluate's URL, which is also the audience of the job's token and the one evaluate accepts (functionUrl). */
export function evaluateUrl(s: GcpDeploySettings): string {
  return s.gcp.evaluateUrl ?? functionUrl('evaluate', s);
}

/** The Cloud Scheduler job: POST <evaluate>/v1/evaluate with an OIDC token for the functions' service account. */
export function schedulerJobRequest(s: GcpDeploySettings): CreateSchedulerJobRequest {
  const base = evaluateUrl(s);
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

/** Dry run: writes `<dir>/scheduler-job.json` and says what would be sent. */
export async function planSchedulerJob(run: DeployRun<GcpDeploySettings>, dir: string): Promise<void> {
  await run.write(join(dir, 'scheduler-job.json'), jsonText(schedulerJobRequest(run.settings)));
  run.log('would call CloudSchedulerClient.createJob (above), or updateJob when it exists');
  run.action(`scheduler evaluate: ${run.settings.gcp.schedule}`);
}

/** Writes the job, then creates it or updates the existing one. */
export async function applySchedulerJob(run: DeployRun<GcpDeploySettings>, dir: string): Promise<void> {
  const request = schedulerJobRequest(run.settings);
  await run.write(join(dir, 'scheduler-job.json'), jsonText(request));
  const { CloudSchedulerClient } = await import('@google-cloud/scheduler');
  const client = new CloudSchedulerClient();
  const name = request.job?.name ?? '';
  const exists = await client.getJob({ name }).then(
    () => true,
    () => false,
  );
  if (exists) await client.updateJob({ job: request.job ?? null });
  else await client.createJob(request);
  run.log(`evaluate schedule: ${exists ? 'updated' : 'created'} ${name}`);
  run.action(`scheduler evaluate: ${run.settings.gcp.schedule}`);
}
