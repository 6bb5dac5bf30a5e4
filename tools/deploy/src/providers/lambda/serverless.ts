/**
 * AWS Lambda through the Serverless Framework v3: one serverless.yml generated from the same
 * function specs (predict's HTTP API routes, Function URLs for the long-running control plane,
 * batch-score's S3 event, evaluate's EventBridge schedule), each function shipped as its own zip of
 * the tools/build `lambda` bundle, each with its own IAM role holding only what that function
 * touches (v3 shares one role otherwise, without a plugin).
 */
import { spawn } from 'node:child_process';
import { relative } from 'node:path';
import { FUNCTION_CALLS, FUNCTION_SPECS, FUNCTIONS, type FunctionName } from '../../config.ts';
import type { SizedSpec } from '../../sizing.ts';
import type { Yamlable } from '../../yaml.ts';
import type { AwsDeploySettings } from './settings.ts';

export interface IamStatement {
  [key: string]: Yamlable;
  Effect: 'Allow';
  Action: string[];
  Resource: Yamlable;
}

const LOGICAL: Readonly<Record<FunctionName, string>> = {
  predict: 'Predict',
  'batch-score': 'BatchScore',
  evaluate: 'Evaluate',
  'retrain-trigger': 'RetrainTrigger',
  promote: 'Promote',
};
export const roleLogicalId = (fn: FunctionName): string => `${LOGICAL[fn]}Role`;

/**
 * API Gateway's HTTP API ends an integration after 30 s; evaluate, retrain-trigger and promote run
 * for minutes, so they get a Lambda Function URL instead (bounded by the function's own timeout).
 */
export const FUNCTION_URL_FUNCTIONS: readonly FunctionName[] = ['evaluate', 'retrain-trigger', 'promote'];
const hasFunctionUrl = (fn: FunctionName): boolean => FUNCTION_URL_FUNCTIONS.includes(fn);

/** Serverless v3's normalized function name in logical ids (naming.getNormalizedFunctionName: `-` → `Dash`). */
const normalizedName = (fn: FunctionName): string => fn.replace(/-/g, 'Dash').replace(/^./, (c) => c.toUpperCase());
/** The logical id of a function's URL, and of the stack output holding it (naming.getLambdaFunctionUrlLogicalId). */
export const functionUrlLogicalId = (fn: FunctionName): string => `${normalizedName(fn)}LambdaFunctionUrl`;
/** The stack output holding the version a deploy published (naming.getLambdaVersionOutputLogicalId). */
export const versionOutputId = (fn: FunctionName): string => `${normalizedName(fn)}LambdaFunctionQualifiedArn`;
/** The stack output holding the HTTP API's URL (predict's routes). */
export const HTTP_API_URL_OUTPUT = 'HttpApiUrl';
/** The CloudFormation stack serverless deploys (`<service>-<stage>`). */
export const stackName = (s: AwsDeploySettings): string => `${s.aws.service}-${s.aws.stage}`;

/**
 * The URLs each function calls (FUNCTION_CALLS), read from the stack. The references form a chain evaluate → retrain-trigger → promote: no function names its own URL
 * (its URL depends on the function), so CloudFormation has no cycle to refuse. With these objects in
 * its environment, `serverless deploy function` leaves that function's variables as the stack set
 * them: a changed setting for evaluate or retrain-trigger needs a full `deploy`.
 */
function urlEnvironment(fn: FunctionName, deployed: readonly FunctionName[]): Record<string, Yamlable> | undefined {
  const entries = Object.entries(FUNCTION_CALLS[fn] ?? {}).filter(([, target]) => deployed.includes(target));
  if (entries.length === 0) return undefined;
  return Object.fromEntries(entries.map(([name, target]) => [name, { 'Fn::GetAtt': [functionUrlLogicalId(target), 'FunctionUrl'] }]));
}

/** S3 statements scoped to the store's bucket and prefix: list under the prefix, read/write objects under it. */
export function storeStatements(s: AwsDeploySettings): IamStatement[] {
  const { bucket, prefix } = s.storeLocation;
  return [
    {
      Effect: 'Allow',
      Action: ['s3:ListBucket'],
      Resource: `arn:aws:s3:::${bucket}`,
      Condition: { StringLike: { 's3:prefix': [`${prefix}*`] } },
    },
    // Registry compare-and-swap uses conditional PutObject; HeadObject is authorised by GetObject.
    { Effect: 'Allow', Action: ['s3:GetObject', 's3:PutObject'], Resource: `arn:aws:s3:::${bucket}/${prefix}*` },
  ];
}

export function iamStatementsFor(fn: FunctionName, s: AwsDeploySettings): IamStatement[] {
  const statements = storeStatements(s);
  if (fn === 'retrain-trigger') {
    statements.push({
      Effect: 'Allow',
      Action: ['sagemaker:CreateTrainingJob', 'sagemaker:DescribeTrainingJob'],
      // Fn::Join, not ${aws:accountId}: that variable needs STS at package time, this resolves in CloudFormation.
      Resource: { 'Fn::Join': ['', [`arn:aws:sagemaker:${s.aws.region}:`, { Ref: 'AWS::AccountId' }, ':training-job/*']] },
    });
    const role = s.functionEnv.SAGEMAKER_ROLE_ARN;
    // CreateTrainingJob hands the job its execution role: the caller must be allowed to pass exactly that one.
    if (role)
      statements.push({
        Effect: 'Allow',
        Action: ['iam:PassRole'],
        Resource: role,
        Condition: { StringEquals: { 'iam:PassedToService': 'sagemaker.amazonaws.com' } },
      });
  }
  if (s.aws.snsTopicArn && fn !== 'predict' && fn !== 'batch-score') {
    statements.push({ Effect: 'Allow', Action: ['sns:Publish'], Resource: s.aws.snsTopicArn });
  }
  return statements;
}

function roleResource(fn: FunctionName, s: AwsDeploySettings): Yamlable {
  return {
    Type: 'AWS::IAM::Role',
    Properties: {
      AssumeRolePolicyDocument: {
        Version: '2012-10-17',
        Statement: [{ Effect: 'Allow', Principal: { Service: ['lambda.amazonaws.com'] }, Action: ['sts:AssumeRole'] }],
      },
      ManagedPolicyArns: ['arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole'],
      Policies: [{ PolicyName: `mlops-${fn}`, PolicyDocument: { Version: '2012-10-17', Statement: iamStatementsFor(fn, s) } }],
    },
  };
}

function httpEvents(fn: FunctionName): Yamlable[] {
  if (hasFunctionUrl(fn)) return [];
  return FUNCTION_SPECS[fn].routes.map((route) => {
    const [method = 'ANY', path = '/'] = route.split(' ');
    return { httpApi: { method: method === 'ANY' ? '*' : method, path } };
  });
}

function eventsFor(fn: FunctionName, s: AwsDeploySettings): Yamlable[] {
  if (fn === 'batch-score') {
    const inbox = s.functionEnv.BATCH_INPUT_PREFIX ?? 'inbox/';
    // The store bucket holds models and logs already: `existing: true` adds the notification to it.
    return [
      {
        s3: {
          bucket: s.storeLocation.bucket,
          event: 's3:ObjectCreated:*',
          rules: [{ prefix: `${s.storeLocation.prefix}${inbox}` }],
          existing: true,
        },
      },
    ];
  }
  if (fn === 'evaluate') {
    // libs/platform turns an EventBridge "Scheduled Event" into POST /v1/evaluate on the app.
    return [{ schedule: { rate: [s.aws.scheduleExpression], enabled: true, description: 'mlops evaluate' } }, ...httpEvents(fn)];
  }
  return httpEvents(fn);
}

export interface ServerlessOptions {
  /** The folder serverless.yml is written to (artifact paths are relative to it). */
  serviceDir: string;
  /** Where the `<fn>/lambda.zip` artifacts are. */
  functionsDir: string;
  functions?: readonly FunctionName[];
  /** Each function's spec, sized for the model (DeployRun.spec). */
  spec: (fn: FunctionName) => SizedSpec;
}

export function serverlessConfig(s: AwsDeploySettings, opts: ServerlessOptions): Record<string, Yamlable> {
  const fns = opts.functions ?? FUNCTIONS;
  const functions: Record<string, Yamlable> = {};
  const resources: Record<string, Yamlable> = {};
  for (const fn of fns) {
    const spec = opts.spec(fn);
    const events = eventsFor(fn, s);
    functions[fn] = {
      name: `${s.aws.service}-${s.aws.stage}-${fn}`,
      handler: 'index.handler',
      memorySize: spec.memoryMiB,
      // The model cache is on /tmp (MLOPS_CACHE_DIR below): more than Lambda's default only for a large model.
      ...(spec.ephemeralStorageMiB !== undefined ? { ephemeralStorageSize: spec.ephemeralStorageMiB } : {}),
      timeout: spec.timeoutSeconds,
      role: roleLogicalId(fn),
      ...(fn === 'evaluate' || fn === 'retrain-trigger' || fn === 'promote' ? { reservedConcurrency: spec.maxInstances } : {}),
      // authType NONE (no `authorizer: aws_iam`): the apps check the caller themselves (MLOPS_API_KEY
      // or OIDC on every guarded route) and callFunction sends the key as a bearer token, not SigV4.
      ...(hasFunctionUrl(fn) ? { url: true } : {}),
      environment: urlEnvironment(fn, fns),
      package: { artifact: relative(opts.serviceDir, `${opts.functionsDir}/${fn}/lambda.zip`) },
      events: events.length > 0 ? events : undefined,
    };
    resources[roleLogicalId(fn)] = roleResource(fn, s);
  }
  return {
    service: s.aws.service,
    frameworkVersion: '3',
    provider: {
      name: 'aws',
      runtime: 'nodejs20.x',
      architecture: 'x86_64',
      region: s.aws.region,
      stage: s.aws.stage,
      logRetentionInDays: 30,
      environment: {
        ...s.functionEnv,
        // Secrets by reference: the framework reads each SecureString when it deploys; no value is in this file.
        ...Object.fromEntries(Object.entries(s.secrets).map(([name, parameter]) => [name, `\${ssm:${parameter}}`])),
        MLOPS_CACHE_DIR: '/tmp/mlops-cache',
        NODE_OPTIONS: '--enable-source-maps',
      },
      ...(fns.some((fn) => httpEvents(fn).length > 0) ? { httpApi: { payload: '2.0' } } : {}),
    },
    package: { individually: true },
    functions,
    resources: { Resources: resources },
  };
}

export interface ServerlessRun {
  command: string[];
  code: number;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Runs the serverless v3 CLI (`deploy` or `package`) in `serviceDir`, telemetry and notifications off. */
export function runServerless(
  bin: string,
  args: readonly string[],
  serviceDir: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<ServerlessRun> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, {
      cwd: serviceDir,
      env: {
        ...env,
        SLS_TELEMETRY_DISABLED: '1',
        SLS_NOTIFICATIONS_MODE: 'off',
        SLS_DEPRECATION_DISABLE: '*',
        SLS_INTERACTIVE_SETUP_DISABLE: '1',
        CI: '1',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) =>
      resolve({ command: [bin, ...args], code: code ?? 1, stdout, stderr, ms: Math.round(performance.now() - started) }),
    );
  });
}
