/**
 * AWS Lambda: every function's `lambda` bundle zipped, then one generated serverless.yml deployed
 * with the Serverless Framework v3 (the whole stack, or `deploy function` for one). Also owns the
 * reference deploy/aws/serverless.yml.
 */
import { join } from 'node:path';
import { installExternals } from '../../bundle.ts';
import { FUNCTION_CALLS, FUNCTIONS, type FunctionName } from '../../config.ts';
import { TRAINER_IMAGES } from '../../images.ts';
import { toYaml } from '../../yaml.ts';
import { zipFolder } from '../../zip.ts';
import type { LiveFunction } from '../../summary.ts';
import type { DeployProvider, DeployRun } from '../types.ts';
import {
  functionUrlLogicalId,
  HTTP_API_URL_OUTPUT,
  runServerless,
  serverlessConfig,
  type ServerlessRun,
  stackName,
  versionOutputId,
  FUNCTION_URL_FUNCTIONS,
} from './serverless.ts';
import { awsSettingsSchema, type AwsBlock, type AwsDeploySettings } from './settings.ts';
import { defaultFunctionConfig, type FunctionConfigApi } from './function-config.ts';
import { defaultStackOutputs, type StackOutputsApi } from './stack-outputs.ts';

export interface LambdaClients {
  stacks: StackOutputsApi;
  deployedFunctions: FunctionConfigApi;
  /** Runs the serverless CLI in the service folder (runServerless). */
  serverless: (args: readonly string[], serviceDir: string, env: NodeJS.ProcessEnv) => Promise<ServerlessRun>;
}

type LambdaRun = DeployRun<AwsDeploySettings, LambdaClients>;

/** The trainer image this deploy was given: the GPU one when built (it runs on CPU instances as well), else the CPU one. */
const trainerImage = (s: AwsDeploySettings): string | undefined => s.images[TRAINER_IMAGES.gpu] ?? s.images[TRAINER_IMAGES.cpu];

/**
 * SAGEMAKER_IMAGE, which libs/jobs hands to SageMaker: the trainer image given, or the one set,
 * or else (SageMaker training, a stack deploy that rewrites every function's environment) the one
 * retrain-trigger runs now, so a deploy without a new trainer image keeps the last one.
 */
async function withTrainerImage(run: LambdaRun): Promise<AwsDeploySettings> {
  const s = run.settings;
  const given = trainerImage(s) ?? s.functionEnv.SAGEMAKER_IMAGE;
  if (given !== undefined || s.functionEnv.JOBS_LAUNCHER !== 'sagemaker') return withImage(s, given);
  const name = `${s.aws.service}-${s.aws.stage}-retrain-trigger`;
  if (run.settings.dryRun) {
    run.log(`would keep the SAGEMAKER_IMAGE ${name} runs now (GetFunctionConfiguration)`);
    return s;
  }
  const deployed = (await (run.clients.deployedFunctions ?? defaultFunctionConfig(s.aws.region)).environment(name))?.SAGEMAKER_IMAGE;
  if (deployed === undefined)
    throw new Error(
      `JOBS_LAUNCHER=sagemaker needs a trainer image: none was built (--images) or set (SAGEMAKER_IMAGE), and ${name} runs none yet`,
    );
  run.log(`keeping the SAGEMAKER_IMAGE ${name} runs now: ${deployed}`);
  return withImage(s, deployed);
}

const withImage = (s: AwsDeploySettings, image: string | undefined): AwsDeploySettings =>
  image === undefined ? s : { ...s, functionEnv: { ...s.functionEnv, SAGEMAKER_IMAGE: image } };

/**
 * `deploy function` updates one function's code and settings outside CloudFormation, publishing no
 * version; it cannot change the settings the stack gives (the URLs evaluate and retrain-trigger
 * call) or what every function shares (the trainer image). A pipeline, several functions, or
 * those, deploy the whole stack: CloudFormation changes what changed.
 */
function singleFunction(run: LambdaRun): FunctionName | undefined {
  const [fn, ...others] = run.functions;
  if (run.nonInteractive || fn === undefined || others.length > 0 || FUNCTION_CALLS[fn] !== undefined) return undefined;
  return trainerImage(run.settings) === undefined ? fn : undefined;
}

/** Zips each function's bundle to `<fn>/lambda.zip`; a real deploy installs the externals first. */
async function packageFunctions(run: LambdaRun, { withExternals }: { withExternals: boolean }): Promise<void> {
  // The stack names all five, so a stack deploy ships all five (unchanged ones keep their code).
  for (const fn of singleFunction(run) ? run.functions : FUNCTIONS) {
    const dir = await run.bundle(fn);
    if (withExternals) await installExternals(dir, run.repoRoot);
    const zipFile = join(run.functionsDir, fn, 'lambda.zip');
    const { bytes } = await zipFolder(dir, zipFile);
    run.log(`${fn}: ${zipFile} (${bytes} bytes${withExternals ? '' : ', externals not installed in a dry run'})`);
  }
}

/** Writes serverless.yml for the whole stack and returns the serverless arguments for the target. */
async function writeServerlessYml(run: LambdaRun): Promise<string[]> {
  // The stack always names all five: deploying a partial serverless.yml would delete the others.
  const config = serverlessConfig(await withTrainerImage(run), {
    serviceDir: run.outDir,
    functionsDir: run.functionsDir,
    spec: run.spec,
  });
  await run.write(
    join(run.outDir, 'serverless.yml'),
    toYaml(config, 'Generated by tools/deploy (nx deploy --provider lambda); do not edit.'),
  );
  const stage = run.settings.aws.stage;
  const fn = singleFunction(run);
  return fn ? ['deploy', 'function', '--function', fn, '--stage', stage] : ['deploy', '--stage', stage];
}

/** `deploy function --function predict` of the arguments, for the summary. */
const command = (args: readonly string[]): string => `serverless ${args.slice(0, args.indexOf('--stage')).join(' ')}`;

/** Each deployed function's published version and URL, from the stack's outputs (serverless names them). */
export function liveFromOutputs(functions: readonly FunctionName[], outputs: Record<string, string>, action: string): LiveFunction[] {
  return functions.map((fn) => {
    const version = outputs[versionOutputId(fn)]?.split(':').at(-1);
    const url = FUNCTION_URL_FUNCTIONS.includes(fn)
      ? outputs[functionUrlLogicalId(fn)]
      : fn === 'predict'
        ? outputs[HTTP_API_URL_OUTPUT]
        : undefined;
    return { name: fn, action, ...(version ? { live: `version ${version}` } : {}), ...(url ? { url } : {}) };
  });
}

/**
 * The summary's rows after a deploy. A stack deploy publishes a version of each function, read from
 * the stack's outputs; `deploy function` updates $LATEST only. The deploy has succeeded, so a stack
 * that cannot be read only loses the versions.
 */
async function recordLive(run: LambdaRun, args: readonly string[]): Promise<void> {
  if (singleFunction(run)) {
    for (const fn of run.functions) run.live({ name: fn, action: command(args), live: '$LATEST' });
    return;
  }
  const stacks = run.clients.stacks ?? defaultStackOutputs(run.settings.aws.region);
  const outputs = await stacks.outputs(stackName(run.settings)).catch((error: unknown) => {
    run.log(`could not read the outputs of ${stackName(run.settings)}: ${error instanceof Error ? error.message : String(error)}`);
    return {};
  });
  for (const row of liveFromOutputs(run.functions, outputs, command(args))) run.live(row);
  const image = trainerImage(run.settings);
  if (image) run.live({ name: 'trainer', action: 'SAGEMAKER_IMAGE set', image });
}

export const lambdaProvider: DeployProvider<'lambda', AwsBlock, LambdaClients> = {
  name: 'lambda',
  bundleHost: 'lambda',
  splitsTraffic: false,
  // MLOPS_CACHE_DIR is /tmp/mlops-cache: Lambda's ephemeral storage, apart from its memory.
  modelCache: 'disk',
  storeScheme: 's3',
  requiredEnv: ['AWS_REGION'],
  settingsSchema: awsSettingsSchema,

  async plan(run) {
    await packageFunctions(run, { withExternals: false });
    const args = await writeServerlessYml(run);
    run.log(`would run in ${run.outDir}: serverless ${args.join(' ')}`);
    run.action(`serverless ${args.join(' ')}`);
    for (const fn of run.functions) run.live({ name: fn, action: `would run ${command(args)}` });
  },

  async apply(run) {
    await packageFunctions(run, { withExternals: true });
    const args = await writeServerlessYml(run);
    const serverless =
      run.clients.serverless ??
      ((a: readonly string[], dir: string, env: NodeJS.ProcessEnv) =>
        runServerless(join(run.repoRoot, 'node_modules', '.bin', 'serverless'), a, dir, env));
    const result = await serverless(args, run.outDir, run.env);
    run.log(result.stdout + result.stderr);
    if (result.code !== 0) throw new Error(`serverless ${args.join(' ')} failed (exit ${result.code})`);
    run.action(`serverless ${args.join(' ')}`);
    await recordLive(run, args);
  },

  referenceSpecs(s, repoRoot, spec) {
    const serviceDir = join(repoRoot, 'deploy/aws');
    return {
      'deploy/aws/serverless.yml': toYaml(
        serverlessConfig(s, { serviceDir, functionsDir: join(repoRoot, 'dist/functions'), spec }),
        `Reference stack with placeholders (${s.placeholders.join(', ')}); nx deploy --provider lambda writes the real one to dist/deploy/lambda/.`,
      ),
    };
  },
};
