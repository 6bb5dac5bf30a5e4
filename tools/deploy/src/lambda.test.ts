import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FUNCTIONS, loadDeploySettings } from './config.ts';
import { runServerless, serverlessConfig } from './lambda.ts';
import { toYaml } from './yaml.ts';
import { zipEntries } from './zip.ts';

const REPO_ROOT = resolve(import.meta.dirname, '..', '..', '..');
const dirs: string[] = [];
afterAll(async () => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

type Resource = { Type: string; Properties: Record<string, unknown> };

describe('serverless package (v3, offline) on the generated serverless.yml', () => {
  it('yields the five functions, their HTTP API routes, the S3 and schedule events and scoped IAM', { timeout: 180_000 }, async () => {
    const root = await mkdtemp(join(tmpdir(), 'mlops-sls-'));
    dirs.push(root);
    const functionsDir = join(root, 'functions');
    for (const fn of FUNCTIONS) {
      await mkdir(join(functionsDir, fn), { recursive: true });
      await writeFile(join(functionsDir, fn, 'lambda.zip'), zipEntries([{ name: 'index.mjs', data: Buffer.from('export const handler = async () => ({});\n') }]));
    }
    const env = { AWS_REGION: 'eu-west-1', MLOPS_STORE: 's3://mlops-bucket/prod', ALERT_SNS_TOPIC_ARN: 'arn:aws:sns:eu-west-1:123456789012:mlops', SAGEMAKER_ROLE_ARN: 'arn:aws:iam::123456789012:role/trainer' };
    const settings = loadDeploySettings(env, 'lambda', false);
    const serviceDir = join(root, 'service');
    await mkdir(serviceDir);
    await writeFile(join(serviceDir, 'serverless.yml'), toYaml(serverlessConfig(settings, { serviceDir, functionsDir })));

    const run = await runServerless(join(REPO_ROOT, 'node_modules/.bin/serverless'), ['package', '--stage', 'prod'], serviceDir, {
      PATH: process.env.PATH,
      HOME: root,
      AWS_ACCESS_KEY_ID: 'test',
      AWS_SECRET_ACCESS_KEY: 'test',
      AWS_REGION: 'eu-west-1',
      AWS_EC2_METADATA_DISABLED: 'true',
    });
    console.log(`serverless package: ${run.ms} ms`);
    expect(run.code, run.stdout + run.stderr).toBe(0);

    const template = JSON.parse(await readFile(join(serviceDir, '.serverless/cloudformation-template-update-stack.json'), 'utf8')) as { Resources: Record<string, Resource> };
    const resources = Object.entries(template.Resources);
    const ofType = (type: string) => resources.filter(([, r]) => r.Type === type);

    const lambdas = ofType('AWS::Lambda::Function').map(([, r]) => r.Properties);
    const names = lambdas.map((p) => p.FunctionName);
    for (const fn of FUNCTIONS) expect(names).toContain(`mlops-prod-${fn}`);
    // (serverless adds its own custom-resource function, on its own runtime, for the existing bucket.)
    for (const p of lambdas.filter((p) => FUNCTIONS.some((fn) => p.FunctionName === `mlops-prod-${fn}`))) {
      expect(p.Runtime).toBe('nodejs20.x');
      expect(p.Handler).toBe('index.handler');
    }
    const predict = lambdas.find((p) => p.FunctionName === 'mlops-prod-predict');
    expect(predict?.MemorySize).toBe(2048);
    expect(lambdas.find((p) => p.FunctionName === 'mlops-prod-batch-score')).toMatchObject({ MemorySize: 4096, Timeout: 900 });

    const routes = ofType('AWS::ApiGatewayV2::Route').map(([, r]) => r.Properties.RouteKey);
    expect(routes).toEqual(expect.arrayContaining(['POST /v1/predict', 'POST /v1/feedback', 'POST /v1/evaluate', 'POST /v1/trigger', 'POST /v1/candidates', 'POST /v1/canary/review']));

    // The bucket exists already (it is the store): serverless configures the notification through its custom resource.
    const s3 = ofType('Custom::S3').map(([, r]) => JSON.stringify(r.Properties));
    expect(s3).toHaveLength(1);
    expect(s3[0]).toContain('mlops-bucket');
    expect(s3[0]).toContain('s3:ObjectCreated:*');
    expect(s3[0]).toContain('prod/inbox/');

    const rules = ofType('AWS::Events::Rule').map(([, r]) => r.Properties);
    expect(rules).toHaveLength(1);
    expect(rules[0]?.ScheduleExpression).toBe('rate(1 hour)');
    expect(JSON.stringify(rules[0]?.Targets)).toContain('EvaluateLambdaFunction');

    const policy = (fn: string) => JSON.stringify(template.Resources[`${fn}Role`]?.Properties.Policies);
    for (const fn of ['Predict', 'BatchScore', 'Evaluate', 'RetrainTrigger', 'Promote']) {
      expect(policy(fn)).toContain('arn:aws:s3:::mlops-bucket/prod/*');
      expect(policy(fn)).toContain('"s3:prefix":["prod/*"]');
      expect(policy(fn)).not.toContain('"Resource":"*"');
    }
    expect(policy('RetrainTrigger')).toContain('sagemaker:CreateTrainingJob');
    expect(policy('RetrainTrigger')).toContain('iam:PassRole');
    for (const fn of ['Predict', 'BatchScore', 'Evaluate', 'Promote']) expect(policy(fn)).not.toContain('sagemaker:');
    expect(policy('Evaluate')).toContain('sns:Publish');
    expect(policy('Predict')).not.toContain('sns:Publish');
    const predictRole = ofType('AWS::Lambda::Function').find(([, r]) => r.Properties.FunctionName === 'mlops-prod-predict')?.[1].Properties.Role;
    expect(JSON.stringify(predictRole)).toContain('PredictRole');
  });
});
