import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { CloudRunJobLauncher, executionStatus } from './launcher.ts';
import type { CloudRunClientOptions } from './types.ts';

interface RecordedRequest {
  method: string;
  path: string;
  query: string;
  headers: IncomingHttpHeaders;
  body: unknown;
}

const PARENT = 'projects/p1/locations/europe-west1';
const EXECUTION = `${PARENT}/jobs/trainer/executions/trainer-x7k2p`;

// Trimmed from a real runJob answer: the operation is not done; its metadata is the new Execution.
function runJobOperation(job: string, execution: string) {
  return {
    name: `${PARENT}/operations/0f5c7a62-2b1d-4c4e-9f7e-3a1b2c3d4e5f`,
    metadata: {
      '@type': 'type.googleapis.com/google.cloud.run.v2.Execution',
      name: execution,
      uid: '3f0c1a9e-8e4b-4d6f-a1c2-7b8d9e0f1a2b',
      generation: '1',
      createTime: '2025-06-01T10:00:00.123456Z',
      launchStage: 'GA',
      job,
      parallelism: 1,
      taskCount: 1,
      reconciling: true,
      conditions: [
        { type: 'Completed', state: 'CONDITION_PENDING', lastTransitionTime: '2025-06-01T10:00:00.123456Z' },
        { type: 'ResourcesAvailable', state: 'CONDITION_PENDING', lastTransitionTime: '2025-06-01T10:00:00.123456Z' },
      ],
      etag: '"CMD4mrIGEKDx2p0D/cHJvamVjdHMvcDEvbG9jYXRpb25zL2V1cm9wZS13ZXN0MS9qb2JzL3RyYWluZXI"',
    },
  };
}

/** A Cloud Run Admin API stand-in: records every request, answers from `executions` and `failNext`. */
function startCloudRunServer() {
  const requests: RecordedRequest[] = [];
  const executions = new Map<string, object>();
  const server = createServer((request, response) => {
    let raw = '';
    request.setEncoding('utf8');
    request.on('data', (chunk: string) => (raw += chunk));
    request.on('end', () => {
      const url = new URL(request.url ?? '/', 'http://localhost');
      const path = decodeURIComponent(url.pathname);
      requests.push({
        method: request.method ?? '',
        path,
        query: url.search,
        headers: request.headers,
        body: raw ? JSON.parse(raw) : undefined,
      });
      const send = (status: number, body: object) => {
        response.writeHead(status, { 'content-type': 'application/json; charset=UTF-8' });
        response.end(JSON.stringify(body));
      };
      const run = /^\/v2\/(projects\/[^/]+\/locations\/[^/]+\/jobs\/([^/:]+)):run$/.exec(path);
      if (request.method === 'POST' && run?.[1] && run[2]) {
        if (run[2] === 'missing')
          return send(404, {
            error: {
              code: 404,
              message: `Resource '${run[2]}' of kind 'JOB' in region 'europe-west1' in project 'p1' does not exist.`,
              status: 'NOT_FOUND',
            },
          });
        return send(200, runJobOperation(run[1], `${run[1]}/executions/${run[2]}-x7k2p`));
      }
      const execution = executions.get(path.replace(/^\/v2\//, ''));
      if (request.method === 'GET' && execution) return send(200, execution);
      send(404, { error: { code: 404, message: `Execution ${path} was not found.`, status: 'NOT_FOUND' } });
    });
  });
  return { server, requests, executions };
}

// Stands in for a google-auth-library client: the REST transport only calls fetch() on it.
const fakeAuthClient = {
  async getRequestHeaders() {
    return new Headers({ authorization: 'Bearer test-token' });
  },
  async fetch(url: string | URL, init: RequestInit) {
    const headers = new Headers(init.headers);
    headers.set('authorization', 'Bearer test-token');
    return fetch(url, { ...init, headers });
  },
};

describe('CloudRunJobLauncher against a local Cloud Run Admin API', () => {
  const { server, requests, executions } = startCloudRunServer();
  let launcher: CloudRunJobLauncher;
  let clientOptions: CloudRunClientOptions;

  beforeAll(async () => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    clientOptions = {
      fallback: true,
      apiEndpoint: '127.0.0.1',
      port: (server.address() as AddressInfo).port,
      protocol: 'http',
      authClient: fakeAuthClient as unknown as CloudRunClientOptions['authClient'],
    };
    launcher = new CloudRunJobLauncher({
      project: 'p1',
      region: 'europe-west1',
      job: 'trainer',
      gpuJob: 'trainer-gpu',
      timeoutSeconds: 3600,
      clientOptions,
    });
  });
  beforeEach(() => {
    requests.length = 0;
  });
  afterAll(async () => {
    await launcher.close();
    server.closeAllConnections(); // the REST transport keeps its sockets alive
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('runs the job with the args and env as container overrides and returns the execution name', async () => {
    const status = await launcher.launch({
      runId: 'r-20250601-1',
      args: ['--data', 'gs://bucket/feedback.jsonl', '--base-version', 'v1', '--epochs', '2', '--reason', 'drift: psi 0.31'],
      env: { MLOPS_STORE: 'gs://bucket/.mlops', MLOPS_ACTOR: 'retrain-trigger' },
    });
    expect(status).toEqual({ id: EXECUTION, launcher: 'cloudrun', state: 'pending' });

    expect(requests).toHaveLength(1);
    const [request] = requests;
    expect(request?.method).toBe('POST');
    expect(request?.path).toBe(`/v2/${PARENT}/jobs/trainer:run`);
    expect(request?.headers.authorization).toBe('Bearer test-token');
    // The job name travels in the path only.
    expect(request?.body).toEqual({
      overrides: {
        containerOverrides: [
          {
            args: ['--data', 'gs://bucket/feedback.jsonl', '--base-version', 'v1', '--epochs', '2', '--reason', 'drift: psi 0.31'],
            env: [
              { name: 'MLOPS_STORE', value: 'gs://bucket/.mlops' },
              { name: 'MLOPS_ACTOR', value: 'retrain-trigger' },
            ],
          },
        ],
        taskCount: 1,
        timeout: '3600s',
      },
    });
  });

  it('sends a GPU request to the GPU job and refuses one when no GPU job is configured', async () => {
    const status = await launcher.launch({ runId: 'r-gpu', args: [], gpu: true });
    expect(status.id).toBe(`${PARENT}/jobs/trainer-gpu/executions/trainer-gpu-x7k2p`);
    expect(requests[0]?.path).toBe(`/v2/${PARENT}/jobs/trainer-gpu:run`);
    // No args clears the job's default args rather than keeping them; no timeout keeps the job's own.
    expect(requests[0]?.body).toMatchObject({ overrides: { containerOverrides: [{ clearArgs: true }], taskCount: 1, timeout: '3600s' } });

    const cpuOnly = new CloudRunJobLauncher({ project: 'p1', region: 'europe-west1', job: 'trainer', clientOptions });
    try {
      await expect(cpuOnly.launch({ runId: 'r-gpu', args: [], gpu: true })).rejects.toThrow(/r-gpu asks for a GPU.*CLOUD_RUN_GPU_JOB/);
      await cpuOnly.launch({ runId: 'r-cpu', args: ['--epochs', '1'] });
      expect(requests.map((r) => r.path)).toEqual([`/v2/${PARENT}/jobs/trainer-gpu:run`, `/v2/${PARENT}/jobs/trainer:run`]);
      expect((requests[1]?.body as { overrides: object }).overrides).not.toHaveProperty('timeout');
    } finally {
      await cpuOnly.close();
    }
  });

  it('reports a job Cloud Run refuses to run with its reason', async () => {
    const broken = new CloudRunJobLauncher({ project: 'p1', region: 'europe-west1', job: 'missing', clientOptions });
    try {
      await expect(broken.launch({ runId: 'r-1', args: [] })).rejects.toThrow(
        /Cloud Run did not run projects\/p1\/locations\/europe-west1\/jobs\/missing for training job r-1: .*does not exist/,
      );
    } finally {
      await broken.close();
    }
  });

  it('maps getExecution answers to job states', async () => {
    const base = { name: EXECUTION, job: 'trainer', taskCount: 1, createTime: '2025-06-01T10:00:00Z' };
    const cases: Array<[object, object]> = [
      [{ conditions: [{ type: 'Completed', state: 'CONDITION_PENDING' }] }, { state: 'pending' }],
      [
        { startTime: '2025-06-01T10:00:05Z', runningCount: 1, conditions: [{ type: 'Completed', state: 'CONDITION_RECONCILING' }] },
        { state: 'running', startedAt: '2025-06-01T10:00:05.000Z' },
      ],
      [
        {
          startTime: '2025-06-01T10:00:05Z',
          completionTime: '2025-06-01T10:20:00.250Z',
          succeededCount: 1,
          conditions: [{ type: 'Completed', state: 'CONDITION_SUCCEEDED', message: 'Execution completed successfully in 19m55s.' }],
        },
        { state: 'succeeded', message: 'Execution completed successfully in 19m55s.', finishedAt: '2025-06-01T10:20:00.250Z' },
      ],
      [
        {
          startTime: '2025-06-01T10:00:05Z',
          completionTime: '2025-06-01T10:03:00Z',
          failedCount: 1,
          // As the API answers with $alt=json;enum-encoding=int: the enum as a number (3 = CONDITION_FAILED).
          conditions: [{ type: 'Completed', state: 3, message: 'Task trainer-x7k2p-task0 failed with exit code 1.' }],
        },
        { state: 'failed', message: 'Task trainer-x7k2p-task0 failed with exit code 1.' },
      ],
    ];
    for (const [fields, expected] of cases) {
      executions.set(EXECUTION, { ...base, ...fields });
      expect(await launcher.status(EXECUTION)).toMatchObject({ id: EXECUTION, launcher: 'cloudrun', ...expected });
    }
    expect(requests.every((r) => r.method === 'GET' && r.path === `/v2/${EXECUTION}`)).toBe(true);

    await expect(launcher.status(`${PARENT}/jobs/trainer/executions/gone`)).rejects.toThrow(
      /Cannot read Cloud Run execution .*executions\/gone: .*not found/,
    );
  });

  it('falls back to task counts when an execution has no Completed condition', () => {
    expect(executionStatus({ name: 'e', completionTime: { seconds: 1 }, cancelledCount: 1 })).toMatchObject({
      state: 'failed',
      message: '1 task(s) failed or were cancelled',
    });
    expect(executionStatus({ name: 'e', completionTime: { seconds: '1' }, succeededCount: 1 })).toMatchObject({
      state: 'succeeded',
      finishedAt: '1970-01-01T00:00:01.000Z',
    });
    expect(executionStatus({ name: 'e', runningCount: 1 }).state).toBe('running');
    expect(executionStatus({ name: 'e' }).state).toBe('pending');
  });
});
