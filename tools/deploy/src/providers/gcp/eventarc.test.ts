import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OAuth2Client } from 'google-auth-library';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DeploySettingsError } from '../../config.ts';
import { deploy } from '../../deploy.ts';
import type { ServicesApi } from '../cloudrun/service.ts';
import { gcpEnv } from '../../test-env.ts';
import { loadDeploySettings } from '../index.ts';
import { deployEventarcTrigger, eventarcTrigger, TRIGGER_UPDATE_MASK, type EventarcApi } from './eventarc.ts';

interface Recorded {
  method: string;
  path: string;
  authorization: string | undefined;
  body: unknown;
}

/** A local stand-in for eventarc.googleapis.com/v1: triggers by name, operations done on their second poll. */
class FakeEventarc {
  readonly requests: Recorded[] = [];
  readonly triggers = new Map<string, unknown>();
  /** Operations that never finish (timeout test) or finish with an error. */
  mode: 'ok' | 'stuck' | 'fail' = 'ok';
  private polls = new Map<string, number>();
  private pending = new Map<string, unknown>();
  private ops = 0;
  private server: Server = createServer(
    (req, res) =>
      void this.handle(req).then(([status, body]) =>
        res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body)),
      ),
  );
  baseUrl = '';

  async start(): Promise<void> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.baseUrl = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/v1`;
  }
  stop = () => new Promise<void>((r) => this.server.close(() => r()));

  private operation(trigger: unknown): [number, unknown] {
    const name = `projects/p1/locations/europe-west1/operations/op-${++this.ops}`;
    this.polls.set(name, 0);
    this.pending.set(name, trigger);
    return [200, { name, done: false }];
  }

  reset(): void {
    this.requests.length = 0;
    for (const map of [this.triggers, this.polls, this.pending]) map.clear();
    this.ops = 0;
    this.mode = 'ok';
  }

  private async handle(req: IncomingMessage): Promise<[number, unknown]> {
    let text = '';
    for await (const chunk of req) text += String(chunk);
    const url = new URL(req.url ?? '/', 'http://x');
    this.requests.push({
      method: req.method ?? '',
      path: `${url.pathname}${url.search}`,
      authorization: req.headers.authorization,
      body: text ? JSON.parse(text) : undefined,
    });
    if (!url.pathname.startsWith('/v1/'))
      return [404, { error: { code: 404, message: `no ${req.method} ${url.pathname}`, status: 'NOT_FOUND' } }];
    const path = url.pathname.slice('/v1/'.length);
    if (req.method === 'POST' && path.endsWith('/triggers')) {
      const name = `${path}/${url.searchParams.get('triggerId')}`;
      if (this.triggers.has(name))
        return [409, { error: { code: 409, message: `Resource '${name}' already exists`, status: 'ALREADY_EXISTS' } }];
      return this.operation({ ...(JSON.parse(text) as object), name });
    }
    if (req.method === 'PATCH' && this.triggers.has(path)) return this.operation(JSON.parse(text));
    if (req.method === 'GET' && this.polls.has(path)) {
      const polls = (this.polls.get(path) ?? 0) + 1;
      this.polls.set(path, polls);
      if (this.mode === 'stuck' || polls < 2) return [200, { name: path, done: false }];
      if (this.mode === 'fail')
        return [200, { name: path, done: true, error: { code: 7, message: 'Permission denied on the service account' } }];
      const trigger = this.pending.get(path) as { name: string };
      this.triggers.set(trigger.name, trigger);
      return [200, { name: path, done: true, response: { ...trigger, uid: 'u-1' } }];
    }
    return [404, { error: { code: 404, message: `no ${req.method} ${path}`, status: 'NOT_FOUND' } }];
  }
}

const fake = new FakeEventarc();
const dirs: string[] = [];
/** A real google-auth-library client holding a token: requests carry it, nothing reaches Google. */
const authClient = (): OAuth2Client => {
  const client = new OAuth2Client();
  client.setCredentials({ access_token: 'test-token' });
  return client;
};
const api = (over: Partial<EventarcApi> = {}): EventarcApi => ({
  http: authClient(),
  baseUrl: fake.baseUrl,
  pollMs: 5,
  timeoutMs: 2000,
  ...over,
});
const env = gcpEnv;
const TRIGGERS = '/v1/projects/p1/locations/europe-west1/triggers';

beforeAll(() => fake.start());
afterAll(async () => {
  await fake.stop();
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});
beforeEach(() => fake.reset());

describe('the Eventarc trigger over REST', () => {
  const trigger = eventarcTrigger(loadDeploySettings(env, 'cloudrun', false));

  it('creates a missing trigger and waits for its operation', async () => {
    const result = await deployEventarcTrigger(api(), trigger);
    expect(result.action).toBe('created');
    expect(result.trigger).toMatchObject({
      name: `${TRIGGERS.slice(4)}/mlops-batch-score-finalize`,
      uid: 'u-1',
      destination: { cloudRun: { service: 'mlops-batch-score', region: 'europe-west1', path: '/' } },
    });
    expect(fake.requests.map((r) => `${r.method} ${r.path}`)).toEqual([
      `POST ${TRIGGERS}?triggerId=mlops-batch-score-finalize`,
      'GET /v1/projects/p1/locations/europe-west1/operations/op-1',
      'GET /v1/projects/p1/locations/europe-west1/operations/op-1',
    ]);
    expect(fake.requests.every((r) => r.authorization === 'Bearer test-token')).toBe(true);
    expect(fake.requests[0]?.body).toEqual(trigger.trigger);
    expect(fake.requests[0]?.body).toMatchObject({
      eventFilters: [
        { attribute: 'type', value: 'google.cloud.storage.object.v1.finalized' },
        { attribute: 'bucket', value: 'b1' },
      ],
    });
  });

  it('updates the trigger when create answers ALREADY_EXISTS', async () => {
    await deployEventarcTrigger(api(), trigger);
    fake.requests.length = 0;
    const result = await deployEventarcTrigger(api(), trigger);
    expect(result.action).toBe('updated');
    expect(fake.requests.map((r) => `${r.method} ${r.path}`)).toEqual([
      `POST ${TRIGGERS}?triggerId=mlops-batch-score-finalize`,
      `PATCH ${TRIGGERS}/mlops-batch-score-finalize?updateMask=${TRIGGER_UPDATE_MASK}`,
      'GET /v1/projects/p1/locations/europe-west1/operations/op-2',
      'GET /v1/projects/p1/locations/europe-west1/operations/op-2',
    ]);
    expect(fake.requests[1]?.body).toEqual(trigger.trigger);
  });

  it('reports a failed operation, an operation that never finishes and an API error', async () => {
    fake.mode = 'fail';
    await expect(deployEventarcTrigger(api(), trigger)).rejects.toThrow(
      /operations\/op-\d+ failed: Permission denied on the service account/,
    );
    fake.mode = 'stuck';
    await expect(deployEventarcTrigger(api({ timeoutMs: 50 }), trigger)).rejects.toThrow(/operations\/op-\d+ not done after/);
    await expect(deployEventarcTrigger(api({ baseUrl: fake.baseUrl.replace(/\/v1$/, '/v0') }), trigger)).rejects.toThrow(
      /answered 404 \(NOT_FOUND: no POST/,
    );
  });
});

describe('nx deploy batch-score --provider cloudrun', () => {
  const services: ServicesApi = {
    getService: async () => {
      throw Object.assign(new Error('not found'), { code: 5 });
    },
    createService: async (req) => [
      { promise: async () => [{ name: req.serviceId ?? '', uri: 'https://mlops-batch-score-1.europe-west1.run.app' }] },
    ],
    updateService: async () => {
      throw new Error('not expected');
    },
  };

  it('deploys the service, then creates the trigger through the REST API', async () => {
    const outDir = await mkdtemp(join(tmpdir(), 'mlops-eventarc-'));
    dirs.push(outDir);
    const report = await deploy({
      target: 'batch-score',
      provider: 'cloudrun',
      dryRun: false,
      outDir,
      env,
      log: () => {},
      clients: {
        services,
        eventarc: api(),
        iam: { getIamPolicy: async () => [{}], setIamPolicy: async ({ policy }: { policy: object }) => [policy] },
      },
    });
    expect(report.actions).toEqual(['cloudrun batch-score: created', 'iam batch-score: added', 'eventarc batch-score: created']);
    expect(report.files.map((f) => f.slice(outDir.length + 1))).toContain('cloudrun/batch-score/eventarc-trigger.json');
    expect(fake.triggers.has('projects/p1/locations/europe-west1/triggers/mlops-batch-score-finalize')).toBe(true);
  });

  it('names the missing project and region before sending anything', async () => {
    const partial = { ...env, GCP_PROJECT: '', GCP_REGION: ' ' };
    const attempt = deploy({
      target: 'batch-score',
      provider: 'cloudrun',
      dryRun: false,
      env: partial,
      log: () => {},
      clients: { services, eventarc: api() },
    });
    await expect(attempt).rejects.toThrow(DeploySettingsError);
    await expect(attempt).rejects.toThrow('deploy to cloudrun needs GCP_PROJECT, GCP_REGION (missing from the environment)');
    expect(fake.requests).toEqual([]);
  });
});
