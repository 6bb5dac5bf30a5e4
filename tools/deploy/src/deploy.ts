/**
 * One code path for the Nx executor and the CLI: build the function for the provider's host, then
 * either write and print the exact requests (dry run: no credentials, nothing sent) or send them.
 * Dry-run files land in <out>/<provider>/<function>/ (default dist/deploy/).
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { deployCloudFunction, createFunctionRequest, sourceObjectFor, updateFunctionRequest, type FunctionsApi } from './cloudfunctions.ts';
import {
  createServiceRequest,
  deployCloudRunService,
  imageOf,
  parseCanary,
  schedulerJobRequest,
  updateServiceRequest,
  type Canary,
  type ServicesApi,
} from './cloudrun.ts';
import { FUNCTIONS, loadDeploySettings, type DeploySettings, type FunctionName, type Provider } from './config.ts';
import { createTriggerUrl, deployEventarcTrigger, eventarcTrigger, updateTriggerUrl, type AuthorizedHttp, type EventarcApi } from './eventarc.ts';
import { trainingJob } from './gcp-specs.ts';
import { FUNCTION_URL_FUNCTIONS, runServerless, serverlessConfig } from './lambda.ts';
import { toYaml, type Yamlable } from './yaml.ts';
import { zipFolder } from './zip.ts';

/** tools/deploy/src → the repository root. */
export const REPO_ROOT = resolve(import.meta.dirname, '..', '..', '..');

export interface DeployOptions {
  target: FunctionName | 'all';
  provider: Provider;
  dryRun: boolean;
  /** `<revision>=<percent>` (Cloud Run only). */
  canary?: string;
  /** Use the bundles already in `functionsDir` (tests, CI that built them in an earlier step). */
  skipBuild?: boolean;
  outDir?: string;
  functionsDir?: string;
  repoRoot?: string;
  env?: NodeJS.ProcessEnv;
  log?: (line: string) => void;
  /** Injected clients (tests); real ones are created on demand. */
  clients?: { services?: ServicesApi; functions?: FunctionsApi; eventarc?: EventarcApi };
}

export interface DeployReport {
  settings: DeploySettings;
  files: string[];
  actions: string[];
}

const HOST: Readonly<Record<Provider, 'node' | 'cloud-function' | 'lambda'>> = { cloudrun: 'node', cloudfunctions: 'cloud-function', lambda: 'lambda' };
const json = (value: unknown) => `${JSON.stringify(value, null, 2)}\n`;

function run(cmd: string, args: readonly string[], cwd: string): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(cmd, args, { cwd, stdio: ['ignore', 'inherit', 'inherit'] });
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolvePromise() : reject(new Error(`${cmd} ${args.join(' ')} exited with ${code}`))));
  });
}

/** tools/build's CLI, run as a process: a tool project may not import another tool (module boundaries). */
async function bundle(fn: FunctionName, provider: Provider, functionsDir: string, repoRoot: string): Promise<string> {
  const host = HOST[provider];
  await run(join(repoRoot, 'node_modules', '.bin', 'tsx'), [join(repoRoot, 'tools/build/src/main.ts'), fn, '--host', host, '--out', functionsDir], repoRoot);
  return join(functionsDir, fn, host);
}

/** The externals (onnxruntime-node, tokenizers, …) installed beside the bundle and pruned to linux-x64. */
async function installExternals(dir: string, repoRoot: string): Promise<void> {
  await run('npm', ['install', '--omit=dev', '--no-package-lock', '--loglevel=error'], dir);
  await run(join(repoRoot, 'node_modules', '.bin', 'tsx'), [join(repoRoot, 'tools/build/src/main.ts'), 'prune', join(dir, 'node_modules')], repoRoot);
}

export async function deploy(opts: DeployOptions): Promise<DeployReport> {
  const repoRoot = opts.repoRoot ?? REPO_ROOT;
  const outDir = resolve(repoRoot, opts.outDir ?? 'dist/deploy');
  const functionsDir = resolve(repoRoot, opts.functionsDir ?? 'dist/functions');
  const log = opts.log ?? ((line: string) => process.stdout.write(`${line}\n`));
  const settings = loadDeploySettings(opts.env ?? process.env, opts.provider, opts.dryRun);
  const canary: Canary | undefined = opts.canary ? parseCanary(opts.canary) : undefined;
  if (canary && opts.provider !== 'cloudrun') throw new Error(`--canary splits Cloud Run traffic between revisions; ${opts.provider} has no revisions to split`);
  if (canary && opts.target === 'all') throw new Error('--canary applies to one function: name it instead of "all"');
  const report: DeployReport = { settings, files: [], actions: [] };
  if (settings.placeholders.length > 0) log(`dry run: placeholders stand in for ${settings.placeholders.join(', ')} (set them for a real deploy)`);

  const write = async (path: string, text: string, show = true) => {
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, text);
    report.files.push(path);
    if (show) log(`--- ${path}\n${text.trimEnd()}`);
  };
  const fns = opts.target === 'all' ? FUNCTIONS : [opts.target];

  if (opts.provider === 'lambda') {
    for (const fn of fns) {
      const dir = opts.skipBuild ? join(functionsDir, fn, 'lambda') : await bundle(fn, 'lambda', functionsDir, repoRoot);
      if (!opts.dryRun) await installExternals(dir, repoRoot);
      const bytes = await zipFolder(dir, join(functionsDir, fn, 'lambda.zip'));
      log(`${fn}: ${join(functionsDir, fn, 'lambda.zip')} (${bytes} bytes${opts.dryRun ? ', externals not installed in a dry run' : ''})`);
    }
    // The stack always names all five: deploying a partial serverless.yml would delete the others.
    const serviceDir = join(outDir, 'lambda');
    // The Function URLs are public (authType NONE): only the apps' own caller check guards them.
    if (!settings.functionEnv.MLOPS_API_KEY && !settings.functionEnv.MLOPS_OIDC_AUDIENCES) {
      log(`warning: neither MLOPS_API_KEY nor MLOPS_OIDC_AUDIENCES is set: ${FUNCTION_URL_FUNCTIONS.join(', ')} would accept any caller on their Function URLs`);
    }
    const config = serverlessConfig(settings, { serviceDir, functionsDir });
    await write(join(serviceDir, 'serverless.yml'), toYaml(config, 'Generated by tools/deploy (nx deploy --provider lambda); do not edit.'));
    const args = opts.target === 'all' ? ['deploy', '--stage', settings.aws.stage] : ['deploy', 'function', '--function', opts.target, '--stage', settings.aws.stage];
    if (opts.dryRun) {
      log(`would run in ${serviceDir}: serverless ${args.join(' ')}`);
      report.actions.push(`serverless ${args.join(' ')}`);
      return report;
    }
    const result = await runServerless(join(repoRoot, 'node_modules', '.bin', 'serverless'), args, serviceDir, opts.env ?? process.env);
    log(result.stdout + result.stderr);
    if (result.code !== 0) throw new Error(`serverless ${args.join(' ')} failed (exit ${result.code})`);
    report.actions.push(`serverless ${args.join(' ')}`);
    return report;
  }

  for (const fn of fns) {
    const dir = join(outDir, opts.provider, fn);
    if (opts.provider === 'cloudrun') {
      // The image comes from deploy/functions.Dockerfile (Docker or Cloud Build); this tool deploys it.
      await write(join(dir, 'build.sh'), `docker build -f deploy/functions.Dockerfile --build-arg FUNCTION=${fn} -t ${imageOf(fn, settings)} . && docker push ${imageOf(fn, settings)}\n`);
      await write(join(dir, 'create-service.json'), json(createServiceRequest(fn, settings, canary)));
      await write(join(dir, 'update-service.json'), json(updateServiceRequest(fn, settings, canary)), false);
      let serviceUri: string | undefined;
      if (opts.dryRun) {
        log(`would call ServicesClient.getService, then createService (above) or updateService (${join(dir, 'update-service.json')})`);
        report.actions.push(`cloudrun ${fn}: get → create|update`);
      } else {
        const { ServicesClient } = await import('@google-cloud/run');
        const client: ServicesApi = opts.clients?.services ?? (new ServicesClient() as unknown as ServicesApi);
        const { action, service } = await deployCloudRunService(client, fn, settings, canary);
        serviceUri = service.uri ?? undefined;
        log(`${fn}: ${action} ${service.name ?? ''} ${serviceUri ?? ''}`);
        report.actions.push(`cloudrun ${fn}: ${action}`);
      }
      await writeTriggers(fn, { s: settings, dir, write, report, log, dryRun: opts.dryRun, eventarc: opts.clients?.eventarc }, serviceUri);
    } else {
      const bundleDir = opts.skipBuild ? join(functionsDir, fn, 'cloud-function') : await bundle(fn, 'cloudfunctions', functionsDir, repoRoot);
      const zipFile = join(functionsDir, fn, 'cloud-function.zip');
      await zipFolder(bundleDir, zipFile);
      const zip = await readFile(zipFile);
      const source = sourceObjectFor(fn, settings, createHash('sha256').update(zip).digest('hex'));
      await write(join(dir, 'create-function.json'), json(createFunctionRequest(fn, settings, source)));
      await write(join(dir, 'update-function.json'), json(updateFunctionRequest(fn, settings, source)), false);
      if (opts.dryRun) {
        log(`would upload ${zipFile} to gs://${source.bucket}/${source.object}, then FunctionServiceClient.getFunction → createFunction (above) or updateFunction (${join(dir, 'update-function.json')})`);
        report.actions.push(`cloudfunctions ${fn}: upload, get → create|update`);
      } else {
        const { openStore } = await import('@mlops/storage');
        await openStore(`gs://${source.bucket}`).put(source.object, zip);
        const { v2 } = await import('@google-cloud/functions');
        const client: FunctionsApi = opts.clients?.functions ?? (new v2.FunctionServiceClient() as unknown as FunctionsApi);
        const { action, fn: deployed } = await deployCloudFunction(client, fn, settings, source);
        log(`${fn}: ${action} ${deployed.name ?? ''} ${deployed.url ?? ''}`);
        report.actions.push(`cloudfunctions ${fn}: ${action}`);
      }
      await writeTriggers(fn, { s: settings, dir, write, report, log, dryRun: opts.dryRun });
    }
  }
  return report;
}

type Write = (path: string, text: string, show?: boolean) => Promise<void>;

interface TriggerContext {
  s: DeploySettings;
  dir: string;
  write: Write;
  report: DeployReport;
  log: (line: string) => void;
  dryRun: boolean;
  eventarc?: EventarcApi;
}

/** An AuthClient from Application Default Credentials; only a real deploy asks for one. */
async function defaultEventarcApi(): Promise<EventarcApi> {
  const { GoogleAuth } = await import('google-auth-library');
  const http: AuthorizedHttp = await new GoogleAuth({ scopes: 'https://www.googleapis.com/auth/cloud-platform' }).getClient();
  return { http };
}

/** evaluate's scheduler job and batch-score's Eventarc trigger (Cloud Functions gen2 carries its own eventTrigger). */
async function writeTriggers(fn: FunctionName, { s, dir, write, report, log, dryRun, eventarc }: TriggerContext, serviceUri?: string): Promise<void> {
  if (fn === 'evaluate') {
    const request = schedulerJobRequest(s, serviceUri);
    await write(join(dir, 'scheduler-job.json'), json(request));
    if (dryRun) {
      log('would call CloudSchedulerClient.createJob (above), or updateJob when it exists');
    } else {
      const { CloudSchedulerClient } = await import('@google-cloud/scheduler');
      const client = new CloudSchedulerClient();
      const name = request.job?.name ?? '';
      const exists = await client.getJob({ name }).then(
        () => true,
        () => false,
      );
      if (exists) await client.updateJob({ job: request.job ?? null });
      else await client.createJob(request);
      log(`evaluate schedule: ${exists ? 'updated' : 'created'} ${name}`);
    }
    report.actions.push(`scheduler evaluate: ${s.gcp.schedule}`);
  }
  if (fn === 'batch-score' && s.provider === 'cloudrun') {
    const trigger = eventarcTrigger(s);
    await write(join(dir, 'eventarc-trigger.json'), json(trigger));
    if (dryRun) {
      log(`would POST ${createTriggerUrl(trigger)} with .trigger (above), or PATCH ${updateTriggerUrl(trigger)} when it exists, then poll the operation`);
      report.actions.push('eventarc batch-score: create|update');
    } else {
      const { action } = await deployEventarcTrigger(eventarc ?? (await defaultEventarcApi()), trigger);
      log(`Eventarc trigger: ${action} ${trigger.trigger.name}`);
      report.actions.push(`eventarc batch-score: ${action}`);
    }
  }
}

/** The hand-off specs in deploy/: the trainer jobs, scheduler and Eventarc YAML, the reference serverless.yml. */
export async function writeDeploySpecs(repoRoot: string = REPO_ROOT, env: NodeJS.ProcessEnv = {}): Promise<string[]> {
  const gcp = loadDeploySettings(env, 'cloudrun', true);
  const aws = loadDeploySettings(env, 'lambda', true);
  const trigger = eventarcTrigger(gcp);
  const header = (what: string) => `${what}\nGenerated by tools/deploy (tsx tools/deploy/src/main.ts specs) with placeholders: ${gcp.placeholders.join(', ')}.`;
  const files: Record<string, string> = {
    'deploy/gcp/training-job.yaml': toYaml(trainingJob(gcp, { gpu: false }), header('Cloud Run Job for the trainer (CPU): gcloud run jobs replace deploy/gcp/training-job.yaml')),
    'deploy/gcp/training-job-gpu.yaml': toYaml(trainingJob(gcp, { gpu: true }), header('Cloud Run Job for the trainer on an NVIDIA L4: gcloud run jobs replace deploy/gcp/training-job-gpu.yaml')),
    'deploy/gcp/scheduler-evaluate.yaml': toYaml(schedulerJobRequest(gcp) as Yamlable, header('Cloud Scheduler CreateJobRequest: POST evaluate /v1/evaluate with an OIDC token')),
    'deploy/gcp/eventarc-batch-score.yaml': toYaml(
      trigger as unknown as Yamlable,
      header(`Eventarc CreateTriggerRequest: GCS finalize → batch-score. nx deploy sends it to the REST API:\nPOST ${createTriggerUrl(trigger)} (body: trigger),\nor PATCH ${updateTriggerUrl(trigger)} when it exists.`),
    ),
  };
  const awsDir = join(repoRoot, 'deploy/aws');
  files['deploy/aws/serverless.yml'] = toYaml(
    serverlessConfig(aws, { serviceDir: awsDir, functionsDir: join(repoRoot, 'dist/functions') }),
    `Reference stack with placeholders (${aws.placeholders.join(', ')}); nx deploy --provider lambda writes the real one to dist/deploy/lambda/.`,
  );
  const written: string[] = [];
  for (const [path, text] of Object.entries(files)) {
    const full = join(repoRoot, path);
    await mkdir(dirname(full), { recursive: true });
    await writeFile(full, text);
    written.push(full);
  }
  return written;
}
