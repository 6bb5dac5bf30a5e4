import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from '@mlops/config';
import { afterAll, describe, expect, it } from 'vitest';
import { FUNCTION_SPECS, FUNCTIONS } from '../../config.ts';
import { toYaml } from '../../yaml.ts';
import { zipFolder } from '../../zip.ts';
import { sizedSpec } from '../../sizing.ts';
import { loadDeploySettings } from '../index.ts';
import { liveFromOutputs } from './index.ts';
import {
  FUNCTION_URL_FUNCTIONS,
  functionUrlLogicalId,
  HTTP_API_URL_OUTPUT,
  runServerless,
  serverlessConfig,
  versionOutputId,
} from './serverless.ts';

const dirs: string[] = [];
afterAll(async () => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

type Resource = { Type: string; Properties: Record<string, unknown>; DependsOn?: string | string[] };

/** Logical ids a value refers to (Ref, Fn::GetAtt, ${X} in Fn::Sub), pseudo parameters left out. */
function refsIn(value: unknown, out = new Set<string>()): Set<string> {
  if (Array.isArray(value)) for (const v of value) refsIn(v, out);
  else if (typeof value === 'object' && value !== null) {
    for (const [k, v] of Object.entries(value)) {
      if (k === 'Ref' && typeof v === 'string') out.add(v);
      else if (k === 'Fn::GetAtt' && Array.isArray(v) && typeof v[0] === 'string') out.add(v[0]);
      else if (k === 'Fn::Sub') for (const m of JSON.stringify(v).matchAll(/\$\{([A-Za-z0-9]+)[.}]/g)) out.add(m[1] ?? '');
      else refsIn(v, out);
    }
  }
  return out;
}

/** A dependency cycle among the template's resources (CloudFormation refuses one), or []. */
function cycleIn(resources: Record<string, Resource>): string[] {
  const deps = (id: string): string[] => {
    const r = resources[id];
    if (!r) return [];
    const explicit = r.DependsOn === undefined ? [] : [r.DependsOn].flat();
    return [...refsIn(r.Properties), ...explicit].filter((d) => d in resources);
  };
  const state = new Map<string, 'open' | 'done'>();
  const visit = (id: string, path: string[]): string[] => {
    if (state.get(id) === 'done') return [];
    if (state.get(id) === 'open') return [...path.slice(path.indexOf(id)), id];
    state.set(id, 'open');
    for (const dep of deps(id)) {
      const cycle = visit(dep, [...path, id]);
      if (cycle.length > 0) return cycle;
    }
    state.set(id, 'done');
    return [];
  };
  for (const id of Object.keys(resources)) {
    const cycle = visit(id, []);
    if (cycle.length > 0) return cycle;
  }
  return [];
}

describe('serverless package (v3, offline) on the generated serverless.yml', () => {
  it(
    "yields the five functions, predict's HTTP API routes, Function URLs for the long runs, the S3 and schedule events and scoped IAM",
    { timeout: 180_000 },
    async () => {
      const root = await mkdtemp(join(tmpdir(), 'mlops-sls-'));
      dirs.push(root);
      const functionsDir = join(root, 'functions');
      for (const fn of FUNCTIONS) {
        await mkdir(join(functionsDir, fn, 'lambda'), { recursive: true });
        await writeFile(join(functionsDir, fn, 'lambda', 'index.mjs'), 'export const handler = async () => ({});\n');
        await zipFolder(join(functionsDir, fn, 'lambda'), join(functionsDir, fn, 'lambda.zip'));
      }
      const env = {
        AWS_REGION: 'eu-west-1',
        MLOPS_STORE: 's3://mlops-bucket/prod',
        ALERT_SNS_TOPIC_ARN: 'arn:aws:sns:eu-west-1:123456789012:mlops',
        SAGEMAKER_ROLE_ARN: 'arn:aws:iam::123456789012:role/trainer',
        // Not the key: `serverless package` would read its SSM parameter, and nothing here answers for AWS.
        MLOPS_ALLOW_OPEN: 'true',
      };
      const settings = loadDeploySettings(env, 'lambda', false);
      const serviceDir = join(root, 'service');
      await mkdir(serviceDir);
      // Sized for a DistilBERT-base-sized model, so the stack carries ephemeralStorageSize too.
      const spec = (fn: (typeof FUNCTIONS)[number]) => sizedSpec(FUNCTION_SPECS[fn], 266, 'disk');
      await writeFile(join(serviceDir, 'serverless.yml'), toYaml(serverlessConfig(settings, { serviceDir, functionsDir, spec })));

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

      const template = JSON.parse(await readFile(join(serviceDir, '.serverless/cloudformation-template-update-stack.json'), 'utf8')) as {
        Resources: Record<string, Resource>;
        Outputs: Record<string, unknown>;
      };
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
      expect(predict).toMatchObject({
        MemorySize: spec('predict').memoryMiB,
        EphemeralStorage: { Size: spec('predict').ephemeralStorageMiB },
      });
      expect(lambdas.find((p) => p.FunctionName === 'mlops-prod-batch-score')).toMatchObject({ MemorySize: 4096, Timeout: 900 });
      expect(lambdas.find((p) => p.FunctionName === 'mlops-prod-evaluate')?.EphemeralStorage).toBeUndefined();

      // predict stays on the HTTP API (its 30 s integration limit is far above a prediction); nothing else is routed there.
      const routes = ofType('AWS::ApiGatewayV2::Route').map(([, r]) => r.Properties.RouteKey);
      expect([...routes].sort()).toEqual([...FUNCTION_SPECS.predict.routes].sort());

      // The long-running functions get public Function URLs (the apps check the API key) and run longer than 30 s.
      for (const fn of FUNCTION_URL_FUNCTIONS) {
        const url = template.Resources[functionUrlLogicalId(fn)];
        expect(url?.Type, fn).toBe('AWS::Lambda::Url');
        expect(url?.Properties.AuthType).toBe('NONE');
        expect(url?.Properties.TargetFunctionArn).toEqual({ 'Fn::GetAtt': [functionUrlLogicalId(fn).replace(/Url$/, ''), 'Arn'] }); // <Fn>LambdaFunction
        expect(template.Outputs[functionUrlLogicalId(fn)]).toBeDefined();
        expect(lambdas.find((p) => p.FunctionName === `mlops-prod-${fn}`)?.Timeout).toBeGreaterThan(30);
      }
      expect(ofType('AWS::Lambda::Url')).toHaveLength(FUNCTION_URL_FUNCTIONS.length);
      // The outputs the deploy summary reads the live versions and URLs from (liveFromOutputs).
      for (const fn of FUNCTIONS) expect(template.Outputs[versionOutputId(fn)], fn).toBeDefined();
      expect(template.Outputs[HTTP_API_URL_OUTPUT]).toBeDefined();
      const permissions = ofType('AWS::Lambda::Permission')
        .map(([, r]) => r.Properties)
        .filter((p) => p.Action === 'lambda:InvokeFunctionUrl');
      expect(permissions).toHaveLength(FUNCTION_URL_FUNCTIONS.length);

      // Each caller reads the URLs it calls from the stack; none reads its own (that would be a cycle).
      const envOf = (fn: string) =>
        (lambdas.find((p) => p.FunctionName === `mlops-prod-${fn}`)?.Environment as { Variables: Record<string, unknown> }).Variables;
      expect(envOf('evaluate')).toMatchObject({
        RETRAIN_TRIGGER_URL: { 'Fn::GetAtt': ['RetrainDashtriggerLambdaFunctionUrl', 'FunctionUrl'] },
        PROMOTE_URL: { 'Fn::GetAtt': ['PromoteLambdaFunctionUrl', 'FunctionUrl'] },
      });
      expect(envOf('retrain-trigger')).toMatchObject({ PROMOTE_URL: { 'Fn::GetAtt': ['PromoteLambdaFunctionUrl', 'FunctionUrl'] } });
      expect(envOf('promote').PROMOTE_URL).toBeUndefined();
      expect(cycleIn(template.Resources)).toEqual([]);

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
      const predictRole = ofType('AWS::Lambda::Function').find(([, r]) => r.Properties.FunctionName === 'mlops-prod-predict')?.[1]
        .Properties.Role;
      expect(JSON.stringify(predictRole)).toContain('PredictRole');
    },
  );
});

describe("the deploy summary's rows from the stack's outputs", () => {
  it("names each function's published version and its URL", () => {
    const outputs = {
      [versionOutputId('predict')]: 'arn:aws:lambda:eu-west-1:123456789012:function:mlops-prod-predict:7',
      [versionOutputId('retrain-trigger')]: 'arn:aws:lambda:eu-west-1:123456789012:function:mlops-prod-retrain-trigger:3',
      [functionUrlLogicalId('retrain-trigger')]: 'https://abc.lambda-url.eu-west-1.on.aws/',
      [HTTP_API_URL_OUTPUT]: 'https://x1.execute-api.eu-west-1.amazonaws.com',
    };
    expect(liveFromOutputs(['predict', 'retrain-trigger', 'batch-score'], outputs, 'serverless deploy')).toEqual([
      { name: 'predict', action: 'serverless deploy', live: 'version 7', url: 'https://x1.execute-api.eu-west-1.amazonaws.com' },
      { name: 'retrain-trigger', action: 'serverless deploy', live: 'version 3', url: 'https://abc.lambda-url.eu-west-1.on.aws/' },
      { name: 'batch-score', action: 'serverless deploy' },
    ]);
  });
});

describe('the cycle check used above', () => {
  it('finds a function that reads its own URL, and passes a chain', () => {
    const fn = (env: Record<string, unknown>): Resource => ({
      Type: 'AWS::Lambda::Function',
      Properties: { Environment: { Variables: env } },
    });
    const url = (target: string): Resource => ({
      Type: 'AWS::Lambda::Url',
      Properties: { TargetFunctionArn: { 'Fn::GetAtt': [target, 'Arn'] } },
    });
    const chain = { A: fn({ B_URL: { 'Fn::GetAtt': ['BUrl', 'FunctionUrl'] } }), BUrl: url('B'), B: fn({}), AUrl: url('A') };
    expect(cycleIn(chain)).toEqual([]);
    expect(new Set(cycleIn({ ...chain, B: fn({ SELF: { 'Fn::Sub': 'x${BUrl.FunctionUrl}' } }) }))).toEqual(new Set(['B', 'BUrl']));
  });
});
