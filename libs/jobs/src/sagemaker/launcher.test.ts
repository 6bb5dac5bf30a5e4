import { SageMakerClient } from '@aws-sdk/client-sagemaker';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { SageMakerLauncher, trainingJobName } from './launcher.ts';

interface RecordedRequest {
  target: string | undefined;
  headers: IncomingHttpHeaders;
  body: Record<string, unknown>;
}

const ROLE = 'arn:aws:iam::123456789012:role/mlops-trainer';
const IMAGE = '123456789012.dkr.ecr.eu-west-1.amazonaws.com/mlops-trainer:1.4.0';
const OUTPUT = 's3://mlops-artifacts/sagemaker-output/';

/** A SageMaker API stand-in (awsJson1_1: POST / with X-Amz-Target) that records every request. */
function startSageMakerServer() {
  const requests: RecordedRequest[] = [];
  const described = new Map<string, object>();
  const server = createServer((request, response) => {
    let raw = '';
    request.setEncoding('utf8');
    request.on('data', (chunk: string) => (raw += chunk));
    request.on('end', () => {
      const target = request.headers['x-amz-target'] as string | undefined;
      const body = JSON.parse(raw || '{}') as Record<string, unknown>;
      requests.push({ target, headers: request.headers, body });
      const send = (status: number, payload: object) => {
        response.writeHead(status, {
          'content-type': 'application/x-amz-json-1.1',
          'x-amzn-requestid': 'b5f3a0e2-5c4d-4c1e-9a7b-1d2e3f4a5b6c',
        });
        response.end(JSON.stringify(payload));
      };
      const validation = (message: string) => send(400, { __type: 'com.amazon.coral.validate#ValidationException', message });
      if (target === 'SageMaker.CreateTrainingJob') {
        if (body.RoleArn !== ROLE)
          return validation(
            `Could not assume role ${String(body.RoleArn)}. Please ensure that the role exists and allows principal 'sagemaker.amazonaws.com' to assume the role.`,
          );
        return send(200, { TrainingJobArn: `arn:aws:sagemaker:eu-west-1:123456789012:training-job/${String(body.TrainingJobName)}` });
      }
      if (target === 'SageMaker.DescribeTrainingJob') {
        const job = described.get(String(body.TrainingJobName));
        return job ? send(200, job) : validation('Requested resource not found.');
      }
      send(400, { __type: 'UnknownOperationException' });
    });
  });
  return { server, requests, described };
}

describe('SageMakerLauncher against a local SageMaker API', () => {
  const { server, requests, described } = startSageMakerServer();
  let endpoint: string;
  let client: SageMakerClient;
  let launcher: SageMakerLauncher;

  beforeAll(async () => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    client = new SageMakerClient({
      region: 'eu-west-1',
      endpoint,
      credentials: { accessKeyId: 'AKIDTESTING', secretAccessKey: 'test-secret' },
      maxAttempts: 1,
    });
    launcher = new SageMakerLauncher({
      region: 'eu-west-1',
      roleArn: ROLE,
      image: IMAGE,
      outputS3Uri: OUTPUT,
      maxRuntimeSeconds: 7200,
      client,
    });
  });
  beforeEach(() => {
    requests.length = 0;
  });
  afterAll(async () => {
    client.destroy();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('creates a training job running the image with the args, env, role and output path', async () => {
    const status = await launcher.launch({
      runId: 'r-20250601-1',
      args: ['--data', 's3://bucket/feedback.jsonl', '--parent', 'v1', '--epochs', '2'],
      env: { MLOPS_STORE: 's3://bucket/.mlops' },
    });
    expect(status).toEqual({ id: 'r-20250601-1', launcher: 'sagemaker', state: 'pending' });

    expect(requests).toHaveLength(1);
    const [request] = requests;
    expect(request?.target).toBe('SageMaker.CreateTrainingJob');
    expect(request?.headers.authorization).toMatch(/^AWS4-HMAC-SHA256 Credential=AKIDTESTING\/\d{8}\/eu-west-1\/sagemaker\/aws4_request/);
    expect(request?.body).toEqual({
      TrainingJobName: 'r-20250601-1',
      AlgorithmSpecification: {
        TrainingImage: IMAGE,
        TrainingInputMode: 'File',
        ContainerArguments: ['--data', 's3://bucket/feedback.jsonl', '--parent', 'v1', '--epochs', '2'],
      },
      Environment: { MLOPS_STORE: 's3://bucket/.mlops' },
      RoleArn: ROLE,
      ResourceConfig: { InstanceType: 'ml.m5.xlarge', InstanceCount: 1, VolumeSizeInGB: 30 },
      StoppingCondition: { MaxRuntimeInSeconds: 7200 },
      OutputDataConfig: { S3OutputPath: OUTPUT },
    });
  });

  it('uses the GPU instance type for GPU requests, and the configured types over the defaults', async () => {
    await launcher.launch({ runId: 'r-gpu', args: [], gpu: true });
    const custom = new SageMakerLauncher({
      region: 'eu-west-1',
      roleArn: ROLE,
      image: IMAGE,
      outputS3Uri: OUTPUT,
      instanceType: 'ml.c5.2xlarge',
      gpuInstanceType: 'ml.p3.2xlarge',
      client,
    });
    await custom.launch({ runId: 'r-cpu-2', args: [] });
    await custom.launch({ runId: 'r-gpu-2', args: [], gpu: true });
    expect(requests.map((r) => (r.body.ResourceConfig as { InstanceType: string }).InstanceType)).toEqual([
      'ml.g5.xlarge',
      'ml.c5.2xlarge',
      'ml.p3.2xlarge',
    ]);
    expect(requests[0]?.body).not.toHaveProperty('Environment');
    expect(requests[1]?.body.StoppingCondition).toEqual({ MaxRuntimeInSeconds: 86_400 });
  });

  it('surfaces a ValidationException with the service message and the job name', async () => {
    const wrongRole = new SageMakerLauncher({
      region: 'eu-west-1',
      roleArn: 'arn:aws:iam::123456789012:role/nope',
      image: IMAGE,
      outputS3Uri: OUTPUT,
      client,
    });
    await expect(wrongRole.launch({ runId: 'r-bad', args: [] })).rejects.toThrow(
      /^SageMaker did not create training job r-bad: ValidationException: Could not assume role arn:aws:iam::123456789012:role\/nope/,
    );
    await expect(launcher.status('r-unknown')).rejects.toThrow(
      'Cannot read SageMaker training job r-unknown: ValidationException: Requested resource not found.',
    );
  });

  it('maps DescribeTrainingJob statuses to job states', async () => {
    const base = {
      TrainingJobName: 'r-1',
      TrainingJobArn: 'arn:aws:sagemaker:eu-west-1:123456789012:training-job/r-1',
      CreationTime: 1748772000.5,
      ModelArtifacts: { S3ModelArtifacts: '' },
      StoppingCondition: { MaxRuntimeInSeconds: 7200 },
    };
    const cases: Array<[object, object]> = [
      [
        {
          TrainingJobStatus: 'InProgress',
          SecondaryStatus: 'Starting',
          SecondaryStatusTransitions: [
            { Status: 'Starting', StartTime: 1748772000.5, StatusMessage: 'Preparing the instances for training' },
          ],
        },
        { state: 'pending', message: 'Preparing the instances for training' },
      ],
      [
        { TrainingJobStatus: 'InProgress', SecondaryStatus: 'Training', TrainingStartTime: 1748772100 },
        { state: 'running', startedAt: '2025-06-01T10:01:40.000Z' },
      ],
      [
        { TrainingJobStatus: 'Stopping', SecondaryStatus: 'Stopping' },
        { state: 'running', message: 'stopping' },
      ],
      [
        { TrainingJobStatus: 'Completed', SecondaryStatus: 'Completed', TrainingStartTime: 1748772100, TrainingEndTime: 1748773300.25 },
        { state: 'succeeded', finishedAt: '2025-06-01T10:21:40.250Z' },
      ],
      [
        { TrainingJobStatus: 'Failed', SecondaryStatus: 'Failed', FailureReason: 'AlgorithmError: training data not found, exit code: 1' },
        { state: 'failed', message: 'AlgorithmError: training data not found, exit code: 1' },
      ],
      [
        { TrainingJobStatus: 'Stopped', SecondaryStatus: 'MaxRuntimeExceeded' },
        { state: 'failed', message: 'training job stopped (MaxRuntimeExceeded)' },
      ],
    ];
    for (const [fields, expected] of cases) {
      described.set('r-1', { ...base, ...fields });
      const status = await launcher.status('r-1');
      expect(status).toMatchObject({ id: 'r-1', launcher: 'sagemaker', ...expected });
      if (!('message' in expected)) expect(status.message).toBeUndefined();
    }
    expect(requests.every((r) => r.target === 'SageMaker.DescribeTrainingJob' && r.body.TrainingJobName === 'r-1')).toBe(true);
  });

  it('builds its own client for the endpoint, with credentials from the environment', async () => {
    vi.stubEnv('AWS_ACCESS_KEY_ID', 'AKIDFROMENV');
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'env-secret');
    vi.stubEnv('AWS_SESSION_TOKEN', '');
    const own = new SageMakerLauncher({ region: 'us-east-2', roleArn: ROLE, image: IMAGE, outputS3Uri: OUTPUT, endpoint });
    try {
      await own.launch({ runId: 'r-env-', args: [] });
      expect(requests[0]?.body.TrainingJobName).toBe('r-env');
      expect(requests[0]?.headers.authorization).toMatch(/Credential=AKIDFROMENV\/\d{8}\/us-east-2\/sagemaker\//);
    } finally {
      vi.unstubAllEnvs();
      await own.close();
    }
  });

  it('derives valid SageMaker names from run ids', () => {
    expect(trainingJobName('abc-123')).toBe('abc-123');
    expect(trainingJobName('a--')).toBe('a');
    expect(trainingJobName('x'.repeat(41))).toMatch(/^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$/);
  });
});
