/**
 * Cloud Functions (2nd gen): per function the `cloud-function` bundle zipped and uploaded as a
 * content-addressed object, then a v2 Function built from it; evaluate gets the scheduler job.
 * batch-score's GCS trigger is part of its Function (eventTrigger), so no Eventarc call here.
 */
import { join } from 'node:path';
import { jsonText } from '@mlops/storage';
import type { FunctionName } from '../../config.ts';
import { zipFolder } from '../../zip.ts';
import { applyInvoker, planInvoker } from '../gcp/invoker-steps.ts';
import type { IamApi } from '../gcp/invoker.ts';
import { functionUrl } from '../gcp/resources.ts';
import { applySchedulerJob, planSchedulerJob } from '../gcp/scheduler.ts';
import { applyTrainerImages, planTrainerImages, trainerJobImages, type JobsApi } from '../gcp/trainer-image.ts';
import type { DeployProvider, DeployRun } from '../types.ts';
import {
  createFunctionRequest,
  deployCloudFunction,
  sourceObjectFor,
  updateFunctionRequest,
  type FunctionsApi,
  type SourceObject,
} from './function.ts';
import { cloudFunctionsSettingsSchema, type CloudFunctionsBlock, type CloudFunctionsSettings } from './settings.ts';

export interface CloudFunctionsClients {
  functions: FunctionsApi;
  iam: IamApi;
  jobs: JobsApi;
}

type CloudFunctionsRun = DeployRun<CloudFunctionsSettings, CloudFunctionsClients>;

interface PackagedFunction {
  dir: string;
  zipFile: string;
  source: SourceObject;
}

/** Zips the bundle, names its object after its hash, writes create-function.json (printed) and update-function.json. */
async function packageFunction(run: CloudFunctionsRun, fn: FunctionName): Promise<PackagedFunction> {
  const bundleDir = await run.bundle(fn);
  const zipFile = join(run.functionsDir, fn, 'cloud-function.zip');
  const { sha256 } = await zipFolder(bundleDir, zipFile);
  const source = sourceObjectFor(fn, run.settings, sha256);
  const dir = join(run.outDir, fn);
  await run.write(join(dir, 'create-function.json'), jsonText(createFunctionRequest(run.spec(fn), run.settings, source)));
  await run.write(join(dir, 'update-function.json'), jsonText(updateFunctionRequest(run.spec(fn), run.settings, source)), {
    show: false,
  });
  return { dir, zipFile, source };
}

export const cloudFunctionsProvider: DeployProvider<'cloudfunctions', CloudFunctionsBlock, CloudFunctionsClients> = {
  name: 'cloudfunctions',
  bundleHost: 'cloud-function',
  splitsTraffic: false,
  // Gen2 runs on Cloud Run: /tmp (MLOPS_CACHE_DIR's default) is in memory.
  modelCache: 'memory',
  storeScheme: 'gs',
  requiredEnv: ['GCP_PROJECT', 'GCP_REGION', 'GCP_SERVICE_ACCOUNT'],
  settingsSchema: cloudFunctionsSettingsSchema,
  wiresCallerAuth: true,
  // A trainer image with no job to run it is found before any function is deployed.
  validate: (settings) => void trainerJobImages(settings),

  async plan(run) {
    for (const fn of run.functions) {
      const { dir, zipFile, source } = await packageFunction(run, fn);
      run.log(
        `would upload ${zipFile} to gs://${source.bucket}/${source.object}, then FunctionServiceClient.getFunction → createFunction (above) or updateFunction (${join(dir, 'update-function.json')})`,
      );
      run.action(`cloudfunctions ${fn}: upload, get → create|update`);
      run.live({
        name: fn,
        action: 'would create or update',
        image: `gs://${source.bucket}/${source.object}`,
        url: functionUrl(fn, run.settings),
      });
      await planInvoker(run, fn, dir);
      if (fn === 'evaluate') await planSchedulerJob(run, dir);
    }
    planTrainerImages(run);
  },

  async apply(run) {
    for (const fn of run.functions) {
      const { dir, zipFile, source } = await packageFunction(run, fn);
      const { openStore } = await import('@mlops/storage');
      await openStore(`gs://${source.bucket}`).uploadFile(source.object, zipFile);
      const { v2 } = await import('@google-cloud/functions');
      const client: FunctionsApi = run.clients.functions ?? (new v2.FunctionServiceClient() as unknown as FunctionsApi);
      const { action, fn: deployed } = await deployCloudFunction(client, run.spec(fn), run.settings, source);
      run.log(`${fn}: ${action} ${deployed.name ?? ''} ${deployed.url ?? ''}`);
      run.action(`cloudfunctions ${fn}: ${action}`);
      run.live({
        name: fn,
        action,
        image: `gs://${source.bucket}/${source.object}`,
        live: deployed.serviceConfig?.revision ?? undefined,
        url: deployed.url ?? undefined,
      });
      const { ServicesClient } = await import('@google-cloud/run');
      await applyInvoker(run, fn, dir, run.clients.iam ?? (new ServicesClient() as unknown as IamApi));
      if (fn === 'evaluate') await applySchedulerJob(run, dir);
    }
    const { JobsClient } = await import('@google-cloud/run');
    await applyTrainerImages(run, async () => run.clients.jobs ?? (new JobsClient() as unknown as JobsApi));
  },
};
