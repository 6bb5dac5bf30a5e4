import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from '@mlops/config';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { FUNCTIONS, type FunctionName } from './config.ts';
import { gcpEnv } from './test-env.ts';
import { deploy, shiftTraffic, writeDeploySpecs } from './deploy.ts';
import type { Service, ServicesApi } from './providers/cloudrun/service.ts';
import type { IamApi } from './providers/gcp/invoker.ts';
import type { JobsApi } from './providers/gcp/trainer-image.ts';
import { PROVIDER_NAMES as PROVIDERS } from './providers/index.ts';

let root: string;
const functionsDir = () => join(root, 'functions');

/** Stand-in bundles, as tools/build would leave them (tests skip the esbuild step). */
async function fakeBundles(): Promise<void> {
  for (const fn of FUNCTIONS) {
    for (const host of ['lambda', 'cloud-function']) {
      const dir = join(functionsDir(), fn, host);
      await mkdir(dir, { recursive: true });
      await writeFile(join(dir, 'index.mjs'), `export const handler = async () => ({ statusCode: 200, body: '${fn}' });\n`);
      await writeFile(join(dir, 'package.json'), JSON.stringify({ name: `mlops-${fn}`, type: 'module', main: 'index.mjs' }));
    }
  }
}

const readJson = async (path: string): Promise<Record<string, unknown>> =>
  JSON.parse(await readFile(path, 'utf8')) as Record<string, unknown>;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'mlops-deploy-'));
  await fakeBundles();
});
afterAll(async () => rm(root, { recursive: true, force: true }));

describe('dry run without credentials', () => {
  for (const provider of PROVIDERS) {
    for (const fn of FUNCTIONS) {
      it(`${fn} on ${provider}`, async () => {
        const lines: string[] = [];
        const outDir = join(root, 'out', provider, fn);
        const report = await deploy({
          target: fn,
          provider,
          dryRun: true,
          skipBuild: true,
          outDir,
          functionsDir: functionsDir(),
          env: { GCP_PROJECT: 'p1' },
          log: (l) => lines.push(l),
        });
        const output = lines.join('\n');
        expect(output).toContain('dry run: placeholders stand in for');
        expect(report.files.length).toBeGreaterThan(0);
        for (const file of report.files) expect(output).toContain(file);

        if (provider === 'cloudrun') {
          const req = (await readJson(join(outDir, 'cloudrun', fn, 'create-service.json'))) as {
            parent: string;
            serviceId: string;
            service: {
              template: {
                containers: { image: string; env: { name: string }[]; resources: { limits: Record<string, string> } }[];
                scaling: Record<string, number>;
                maxInstanceRequestConcurrency: number;
                serviceAccount: string;
              };
            };
          };
          expect(req.parent).toBe('projects/p1/locations/REGION');
          expect(req.serviceId).toBe(`mlops-${fn}`);
          const t = req.service.template;
          expect(t.scaling.minInstanceCount).toBe(0);
          expect(t.containers[0]?.image).toBe(`REGION-docker.pkg.dev/p1/mlops/mlops-${fn}:latest`);
          expect(t.containers[0]?.env.map((e) => e.name)).toContain('MLOPS_STORE');
          if (fn === 'predict') {
            expect(t.containers[0]?.resources.limits).toEqual({ cpu: '2', memory: '2Gi' });
            expect(t.maxInstanceRequestConcurrency).toBe(16);
          }
          if (fn === 'batch-score') expect(t.containers[0]?.resources.limits.memory).toBe('4Gi');
          expect(output).toContain('would call ServicesClient.getService');
        }
        if (provider === 'cloudfunctions') {
          const req = (await readJson(join(outDir, 'cloudfunctions', fn, 'create-function.json'))) as {
            functionId: string;
            function: {
              buildConfig: { runtime: string; entryPoint: string; source: { storageSource: { bucket: string; object: string } } };
              serviceConfig: Record<string, unknown>;
              eventTrigger?: { eventType: string };
            };
          };
          expect(req.functionId).toBe(`mlops-${fn}`);
          expect(req.function.buildConfig).toMatchObject({ runtime: 'nodejs20', entryPoint: fn });
          expect(req.function.buildConfig.source.storageSource.object).toMatch(new RegExp(`deploy/functions/${fn}/[0-9a-f]{16}\\.zip$`));
          expect(req.function.serviceConfig).toMatchObject({
            minInstanceCount: 0,
            serviceAccountEmail: 'mlops-functions@p1.iam.gserviceaccount.com',
          });
          expect(req.function.eventTrigger?.eventType).toBe(fn === 'batch-score' ? 'google.cloud.storage.object.v1.finalized' : undefined);
        }
        if (provider === 'lambda') {
          const yml = parse(await readFile(join(outDir, 'lambda', 'serverless.yml'), 'utf8')) as {
            functions: Record<string, { package: { artifact: string } }>;
          };
          expect(Object.keys(yml.functions)).toEqual([...FUNCTIONS]);
          expect(yml.functions[fn]?.package.artifact).toMatch(new RegExp(`${fn}/lambda\\.zip$`));
          expect(output).toContain('would run in');
        }
        if (fn === 'evaluate' && provider !== 'lambda') {
          const job = (await readJson(join(outDir, provider, fn, 'scheduler-job.json'))) as {
            job: { httpTarget: { uri: string; httpMethod: string; oidcToken: { serviceAccountEmail: string; audience: string } } };
          };
          expect(job.job.httpTarget.httpMethod).toBe('POST');
          expect(job.job.httpTarget.uri).toMatch(/\/v1\/evaluate$/);
          expect(job.job.httpTarget.oidcToken.serviceAccountEmail).toBe('mlops-functions@p1.iam.gserviceaccount.com');
          expect(job.job.httpTarget.uri.startsWith(job.job.httpTarget.oidcToken.audience)).toBe(true);
        }
        if (fn === 'batch-score' && provider === 'cloudrun') {
          const trigger = await readJson(join(outDir, 'cloudrun', fn, 'eventarc-trigger.json'));
          expect(JSON.stringify(trigger)).toContain('google.cloud.storage.object.v1.finalized');
          expect(output).toContain(
            'would POST https://eventarc.googleapis.com/v1/projects/p1/locations/REGION/triggers?triggerId=mlops-batch-score-finalize',
          );
          expect(report.actions).toContain('eventarc batch-score: create|update');
        }
      });
    }
  }
});

/** A fake IAM surface of Cloud Run's ServicesClient: policies by resource. */
const fakeIam = () => {
  const policies = new Map<string, Parameters<IamApi['setIamPolicy']>[0]['policy']>();
  const api: IamApi = {
    getIamPolicy: async ({ resource }) => [policies.get(resource) ?? { bindings: [] }],
    setIamPolicy: async ({ resource, policy }) => {
      policies.set(resource, policy);
      return [policy];
    },
  };
  return { policies, api };
};

describe('OIDC end to end on GCP', () => {
  for (const provider of ['cloudrun', 'cloudfunctions'] as const) {
    it(`${provider}: each function accepts the tokens its callers send, and its callers may invoke it`, async () => {
      const outDir = join(root, 'oidc', provider);
      await deploy({
        target: 'all',
        provider,
        dryRun: true,
        skipBuild: true,
        outDir,
        functionsDir: functionsDir(),
        env: { GCP_PROJECT: 'p1', GCP_PROJECT_NUMBER: '123', GCP_REGION: 'europe-west1', MLOPS_OIDC_EMAILS: 'ops@example.com' },
        log: () => {},
      });
      const sa = 'mlops-functions@p1.iam.gserviceaccount.com';
      const envOf = async (fn: string): Promise<Record<string, string>> => {
        if (provider === 'cloudrun') {
          const req = (await readJson(join(outDir, provider, fn, 'create-service.json'))) as {
            service: { template: { containers: { env: { name: string; value?: string }[] }[] } };
          };
          return Object.fromEntries(req.service.template.containers[0]!.env.map((e) => [e.name, e.value ?? '']));
        }
        const req = (await readJson(join(outDir, provider, fn, 'create-function.json'))) as {
          function: { serviceConfig: { environmentVariables: Record<string, string> } };
        };
        return req.function.serviceConfig.environmentVariables;
      };
      const audiences = async (fn: string) => (await envOf(fn))['MLOPS_OIDC_AUDIENCES']!.split(',');
      for (const fn of FUNCTIONS) {
        const env = await envOf(fn);
        expect(env['MLOPS_OIDC_EMAILS']).toBe(`${sa},ops@example.com`);
        expect(await audiences(fn)).toHaveLength(1);
        expect(await readJson(join(outDir, provider, fn, 'invoker-binding.json'))).toEqual({
          resource: `projects/p1/locations/europe-west1/services/mlops-${fn}`,
          role: 'roles/run.invoker',
          member: `serviceAccount:${sa}`,
        });
      }
      // Calls between functions: an ID token whose audience is the callee's URL, which the callee accepts.
      const evaluate = await envOf('evaluate');
      expect(evaluate['MLOPS_CALL_AUTH']).toBe('id-token');
      expect(await audiences('retrain-trigger')).toEqual([evaluate['RETRAIN_TRIGGER_URL']]);
      expect(await audiences('promote')).toEqual([evaluate['PROMOTE_URL']]);
      expect((await envOf('retrain-trigger'))['PROMOTE_URL']).toBe(evaluate['PROMOTE_URL']);
      expect(await audiences('evaluate')).toEqual([
        provider === 'cloudrun'
          ? 'https://mlops-evaluate-123.europe-west1.run.app'
          : 'https://europe-west1-p1.cloudfunctions.net/mlops-evaluate',
      ]);
      // Cloud Scheduler's token: the functions' account, for evaluate's URL.
      const job = (await readJson(join(outDir, provider, 'evaluate', 'scheduler-job.json'))) as {
        job: { httpTarget: { oidcToken: { serviceAccountEmail: string; audience: string } } };
      };
      expect(job.job.httpTarget.oidcToken).toEqual({ serviceAccountEmail: sa, audience: (await audiences('evaluate'))[0] });
      if (provider === 'cloudrun') {
        // Eventarc's token: its trigger's account, for batch-score's URL (Eventarc's default audience).
        const trigger = (await readJson(join(outDir, provider, 'batch-score', 'eventarc-trigger.json'))) as {
          trigger: { serviceAccount: string };
        };
        expect(trigger.trigger.serviceAccount).toBe(sa);
      }
    });
  }
});

describe('secrets in a dry run', () => {
  /** Every file under `dir`, as text. */
  const textsUnder = async (dir: string): Promise<string[]> => {
    const entries = await readdir(dir, { recursive: true, withFileTypes: true });
    const files = entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
    return Promise.all(files.map((f) => readFile(f, 'latin1')));
  };

  for (const provider of PROVIDERS) {
    it(`${provider}: no secret value reaches a file or the output; the functions read each from the secret store`, async () => {
      const lines: string[] = [];
      const outDir = join(root, 'secrets', provider);
      await deploy({
        target: 'all',
        provider,
        dryRun: true,
        skipBuild: true,
        outDir,
        functionsDir: functionsDir(),
        env: {
          GCP_PROJECT: 'p1',
          MLOPS_API_KEY: 'SENTINEL-api-key',
          ALERT_SMTP_URL: 'smtp://alerts:SENTINEL-password@smtp.example:587',
          ALERT_WEBHOOK_URL_SECRET: 'mlops-webhook',
        },
        log: (l) => lines.push(l),
      });
      const texts = [lines.join('\n'), ...(await textsUnder(outDir))];
      expect(texts.length).toBeGreaterThan(1);
      for (const text of texts) expect(text).not.toContain('SENTINEL');
      const output = lines.join('\n');
      expect(output).toContain('placeholders stand in for');
      expect(output).toMatch(/MLOPS_API_KEY_SECRET, ALERT_SMTP_URL_SECRET/);
      if (provider === 'cloudrun') {
        const req = (await readJson(join(outDir, 'cloudrun', 'promote', 'create-service.json'))) as {
          service: { template: { containers: { env: unknown[] }[] } };
        };
        expect(req.service.template.containers[0]?.env).toContainEqual({
          name: 'MLOPS_API_KEY',
          valueSource: { secretKeyRef: { secret: 'MLOPS_API_KEY_SECRET', version: 'latest' } },
        });
      }
      if (provider === 'cloudfunctions') {
        const req = (await readJson(join(outDir, 'cloudfunctions', 'promote', 'create-function.json'))) as {
          function: { serviceConfig: { secretEnvironmentVariables: unknown[] } };
        };
        expect(req.function.serviceConfig.secretEnvironmentVariables).toContainEqual({
          key: 'ALERT_WEBHOOK_URL',
          projectId: 'p1',
          secret: 'mlops-webhook',
          version: 'latest',
        });
      }
      if (provider === 'lambda') {
        const yml = parse(await readFile(join(outDir, 'lambda', 'serverless.yml'), 'utf8')) as {
          provider: { environment: Record<string, string> };
        };
        expect(yml.provider.environment).toMatchObject({
          MLOPS_API_KEY: '${ssm:MLOPS_API_KEY_SECRET}',
          ALERT_SMTP_URL: '${ssm:ALERT_SMTP_URL_SECRET}',
          ALERT_WEBHOOK_URL: '${ssm:mlops-webhook}',
        });
      }
    });
  }
});

const digest = (name: string) => `europe-west1-docker.pkg.dev/p1/mlops/${name}@sha256:${name.length.toString(16).padStart(64, 'a')}`;

/**
 * A Cloud Run API that keeps services and revisions by the documented rules: a changed template makes
 * a revision (named as asked, else numbered), an unchanged unnamed one makes none, a revision name
 * must start with the service's and may not come back with another configuration (409), and
 * traffic may only name revisions that exist.
 */
function fakeServices() {
  const services = new Map<string, Service>();
  const revisions = new Map<string, string>();
  let made = 0;
  const configOf = (template: Service['template']) => JSON.stringify({ ...template, revision: undefined });
  const settle = (name: string, service: Service): Service => {
    const short = name.split('/').at(-1) ?? '';
    const template = service.template ?? {};
    const config = configOf(template);
    const before = services.get(name);
    let revision: string;
    if (template.revision) {
      if (!template.revision.startsWith(`${short}-`)) throw new Error(`revision ${template.revision} must start with ${short}-`);
      const known = revisions.get(template.revision);
      if (known !== undefined && known !== config)
        throw Object.assign(new Error(`Revision named '${template.revision}' with different configuration already exists.`), { code: 6 });
      revision = template.revision;
    } else if (before?.latestReadyRevision && revisions.get(before.latestReadyRevision) === config) {
      revision = before.latestReadyRevision;
    } else {
      revision = `${short}-${String(++made).padStart(5, '0')}-abc`;
    }
    revisions.set(revision, config);
    const trafficStatuses = (service.traffic ?? []).map((t) => {
      const target = t.revision || revision;
      if (!revisions.has(target)) throw new Error(`traffic names ${target}, which does not exist`);
      return { ...t, revision: target, ...(t.tag ? { uri: `https://${t.tag}---${short}-123.run.app` } : {}) };
    });
    const settled = { ...service, name, latestReadyRevision: revision, trafficStatuses, uri: `https://${short}-123.run.app` };
    services.set(name, settled);
    return settled;
  };
  const op = (service: Service) => [{ promise: async () => [service] }] as [{ promise(): Promise<[Service]> }];
  const api: ServicesApi = {
    getService: async ({ name }) => {
      const service = services.get(name);
      if (!service) throw Object.assign(new Error('not found'), { code: 5 });
      return [structuredClone(service)];
    },
    createService: async (req) => op(settle(`${req.parent}/services/${req.serviceId}`, req.service ?? {})),
    updateService: async (req) => op(settle(req.service?.name ?? '', req.service ?? {})),
  };
  return { api, services, revisionCount: () => revisions.size };
}

describe('cloud run: images by digest, revision tags and a share of traffic (fake clients)', () => {
  const name = 'projects/p1/locations/europe-west1/services/mlops-predict';
  const deployPredict = (services: ReturnType<typeof fakeServices>, tag: string, percent: number, summaryFile?: string) =>
    deploy({
      target: ['predict'],
      provider: 'cloudrun',
      dryRun: false,
      nonInteractive: true,
      images: { 'mlops-predict': digest('mlops-predict') },
      rollout: { percent, tag },
      ...(summaryFile ? { summaryFile } : {}),
      outDir: join(root, 'rollout'),
      env: gcpEnv,
      log: () => {},
      clients: { services: services.api, iam: fakeIam().api },
    });
  const later = () => new Promise((r) => setTimeout(r, 5)); // another deploy time, another revision name

  it('a new revision, tagged, takes its share and the serving one keeps the rest; traffic then moves it all, with no new revision', async () => {
    const services = fakeServices();
    const summary = join(root, 'summary.md');
    // A new service has no other revision: its first takes all, whatever share was asked.
    await deployPredict(services, 'sha-1111111', 10);
    const first = services.services.get(name)?.latestReadyRevision ?? '';
    expect(first).toMatch(/^mlops-predict-sha-1111111-[0-9a-z]{1,6}$/);
    expect(services.services.get(name)?.traffic).toEqual([
      { type: 'TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION', revision: first, percent: 100, tag: 'sha-1111111' },
    ]);
    await later();
    const report = await deployPredict(services, 'sha-2222222', 10, summary);
    const service = services.services.get(name);
    const second = service?.latestReadyRevision ?? '';
    expect(second).toMatch(/^mlops-predict-sha-2222222-/);
    expect(service?.template?.containers?.[0]?.image).toBe(digest('mlops-predict'));
    expect(service?.traffic).toEqual([
      { type: 'TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION', revision: second, percent: 10, tag: 'sha-2222222' },
      { type: 'TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION', revision: first, percent: 90, tag: 'previous' },
    ]);
    expect(report.live).toEqual([
      {
        name: 'predict',
        action: 'updated',
        image: digest('mlops-predict'),
        live: second,
        url: 'https://mlops-predict-123.run.app',
        traffic: 'sha-2222222 10% · previous 90%',
      },
    ]);

    const revisions = services.revisionCount();
    const moved = await shiftTraffic({
      function: 'predict',
      provider: 'cloudrun',
      to: 'sha-2222222',
      percent: 100,
      summaryFile: summary,
      env: gcpEnv,
      log: () => {},
      clients: { services: services.api },
    });
    expect(services.revisionCount()).toBe(revisions); // the template is unchanged: no revision made
    expect(services.services.get(name)?.traffic).toEqual([
      { type: 'TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION', revision: second, percent: 100, tag: 'sha-2222222' },
      { type: 'TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION', revision: first, percent: 0, tag: 'previous' },
    ]);
    expect(moved.traffic).toBe('sha-2222222 100% · previous 0%');
    await expect(
      shiftTraffic({
        function: 'predict',
        provider: 'cloudrun',
        to: 'sha-9',
        percent: 50,
        env: gcpEnv,
        clients: { services: services.api },
      }),
    ).rejects.toThrow(/has no revision tagged "sha-9" \(tags: sha-2222222, previous\)/);

    const table = await readFile(summary, 'utf8');
    expect(table).toContain(
      '| predict | updated | `' +
        digest('mlops-predict') +
        '` | `' +
        second +
        '` | https://mlops-predict-123.run.app | sha-2222222 10% · previous 90% |',
    );
    expect(table).toContain(
      '| predict | traffic | – | `' + second + '` | https://mlops-predict-123.run.app | sha-2222222 100% · previous 0% |',
    );
  });

  it("a re-run of the same deploy takes its earlier revision's place and keeps previous the rollback point", async () => {
    const services = fakeServices();
    await deployPredict(services, 'sha-1111111', 100);
    const first = services.services.get(name)?.latestReadyRevision ?? '';
    await later();
    await deployPredict(services, 'sha-2222222', 100);
    const second = services.services.get(name)?.latestReadyRevision ?? '';
    await later();
    // Re-run (same commit, same tag) at a 10% share: not a canary of the code already serving all.
    await deployPredict(services, 'sha-2222222', 10);
    const rerun = services.services.get(name)?.latestReadyRevision ?? '';
    expect(rerun).not.toBe(second);
    expect(services.services.get(name)?.traffic).toEqual([
      { type: 'TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION', revision: rerun, percent: 100, tag: 'sha-2222222' },
      { type: 'TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION', revision: first, percent: 0, tag: 'previous' },
    ]);
  });

  it('only Cloud Run has revisions to split, and a tag must be one Cloud Run takes', async () => {
    await expect(
      deploy({ target: 'predict', provider: 'lambda', dryRun: true, rollout: { percent: 10 }, env: {}, log: () => {} }),
    ).rejects.toThrow(/no revisions/);
    await expect(
      deploy({ target: 'predict', provider: 'cloudrun', dryRun: true, rollout: { percent: 10, tag: 'v1' }, env: {}, log: () => {} }),
    ).rejects.toThrow(/--tag must be 3–20 lowercase letters/);
  });

  it('non-interactive: a missing image digest fails before anything is sent, naming every one missing', async () => {
    const calls: string[] = [];
    const services: ServicesApi = {
      getService: async () => {
        calls.push('get');
        throw new Error('unexpected');
      },
      createService: async () => {
        throw new Error('unexpected');
      },
      updateService: async () => {
        throw new Error('unexpected');
      },
    };
    await expect(
      deploy({
        target: ['predict', 'evaluate', 'promote'],
        provider: 'cloudrun',
        dryRun: false,
        nonInteractive: true,
        images: { 'mlops-evaluate': digest('mlops-evaluate') },
        env: gcpEnv,
        log: () => {},
        clients: { services },
      }),
    ).rejects.toThrow(/^deploy to cloudrun needs mlops-predict, mlops-promote by digest \(--images/);
    await expect(
      deploy({ target: ['predict'], provider: 'cloudrun', dryRun: false, nonInteractive: true, env: { GCP_PROJECT: 'p1' }, log: () => {} }),
    ).rejects.toThrow(
      /^deploy to cloudrun needs GCP_PROJECT_NUMBER, GCP_REGION, GCP_SERVICE_ACCOUNT, GCP_IMAGE_REPO, MLOPS_STORE \(missing/,
    );
    expect(calls).toEqual([]);
  });

  it("the trainer's Cloud Run jobs, where libs/jobs finds them, take the trainer images by digest, the rest of each job kept", async () => {
    const jobs = new Map<string, Parameters<JobsApi['updateJob']>[0]['job']>([
      [
        'projects/p2/locations/us-central1/jobs/mlops-trainer',
        { name: 'mlops-trainer', etag: 'e1', template: { taskCount: 1, template: { maxRetries: 0, containers: [{ image: 'old' }] } } },
      ],
      [
        'projects/p2/locations/us-central1/jobs/mlops-trainer-gpu',
        { name: 'mlops-trainer-gpu', etag: 'e2', template: { template: { containers: [{ image: 'old-gpu' }] } } },
      ],
    ]);
    const updates: unknown[] = [];
    const api: JobsApi = {
      getJob: async ({ name }) => {
        const job = jobs.get(name);
        if (!job) throw Object.assign(new Error(`${name} not found`), { code: 5 });
        return [structuredClone(job)];
      },
      updateJob: async ({ job }) => {
        updates.push(job);
        return [{ promise: async () => [job] }];
      },
    };
    const images = { 'mlops-trainer-cpu': digest('mlops-trainer-cpu'), 'mlops-trainer-gpu': digest('mlops-trainer-gpu') };
    const env = {
      ...gcpEnv,
      JOBS_LAUNCHER: 'cloudrun',
      CLOUD_RUN_PROJECT: 'p2',
      CLOUD_RUN_REGION: 'us-central1',
      CLOUD_RUN_JOB: 'mlops-trainer',
      CLOUD_RUN_GPU_JOB: 'mlops-trainer-gpu',
    };
    const services = fakeServices();
    const trainerDeploy = (e: Record<string, string>) =>
      deploy({
        target: ['retrain-trigger'],
        provider: 'cloudrun',
        dryRun: false,
        nonInteractive: true,
        images: { ...images, 'mlops-retrain-trigger': digest('mlops-retrain-trigger') },
        outDir: join(root, 'trainer'),
        env: e,
        log: () => {},
        clients: { services: services.api, iam: fakeIam().api, jobs: api },
      });
    const report = await trainerDeploy(env);
    expect(updates).toEqual([
      {
        name: 'mlops-trainer',
        etag: 'e1',
        template: { taskCount: 1, template: { maxRetries: 0, containers: [{ image: images['mlops-trainer-cpu'] }] } },
      },
      { name: 'mlops-trainer-gpu', etag: 'e2', template: { template: { containers: [{ image: images['mlops-trainer-gpu'] }] } } },
    ]);
    expect(report.live.map((r) => `${r.name}: ${r.action}`)).toEqual([
      'retrain-trigger: created',
      'mlops-trainer-cpu: image set',
      'mlops-trainer-gpu: image set',
    ]);
    // No GPU job: its image has nothing to run it and is left alone. Another launcher: neither is used.
    updates.length = 0;
    await trainerDeploy({ ...env, CLOUD_RUN_GPU_JOB: '' });
    expect(updates).toHaveLength(1);
    updates.length = 0;
    await trainerDeploy({ ...env, JOBS_LAUNCHER: 'local' });
    expect(updates).toEqual([]);
    // A CPU image and Cloud Run jobs but no job named: refused before any service is touched.
    const before = services.revisionCount();
    await expect(trainerDeploy({ ...env, CLOUD_RUN_JOB: '' })).rejects.toThrow(
      'the images name mlops-trainer-cpu and JOBS_LAUNCHER is cloudrun, but CLOUD_RUN_JOB names no job to run it',
    );
    expect(services.revisionCount()).toBe(before);
  });

  it('creates a missing service and updates an existing one', async () => {
    const calls: string[] = [];
    const existing = new Set<string>();
    const op = (name: string) =>
      [{ promise: async () => [{ name, uri: 'https://mlops-predict-123.europe-west1.run.app' }] }] as [
        { promise(): Promise<[{ name: string; uri: string }]> },
      ];
    const services: ServicesApi = {
      getService: async ({ name }) => {
        calls.push(`get ${name}`);
        if (!existing.has(name)) throw Object.assign(new Error('not found'), { code: 5 });
        return [{ name }];
      },
      createService: async (req) => {
        calls.push(`create ${req.serviceId}`);
        existing.add(`${req.parent}/services/${req.serviceId}`);
        return op(req.serviceId ?? '');
      },
      updateService: async (req) => {
        calls.push(`update ${req.service?.name}`);
        return op(req.service?.name ?? '');
      },
    };
    const env = gcpEnv;
    const iam = fakeIam();
    const opts = {
      target: 'predict',
      provider: 'cloudrun',
      dryRun: false,
      outDir: join(root, 'real'),
      env,
      log: () => {},
      clients: { services, iam: iam.api },
    } as const;
    expect((await deploy(opts)).actions).toEqual(['cloudrun predict: created', 'iam predict: added']);
    expect((await deploy(opts)).actions).toEqual(['cloudrun predict: updated', 'iam predict: present']);
    expect(iam.policies.get('projects/p1/locations/europe-west1/services/mlops-predict')).toEqual({
      bindings: [{ role: 'roles/run.invoker', members: ['serviceAccount:sa@p1.iam.gserviceaccount.com'] }],
    });
    expect(calls).toEqual([
      'get projects/p1/locations/europe-west1/services/mlops-predict',
      'create mlops-predict',
      'get projects/p1/locations/europe-west1/services/mlops-predict',
      'update projects/p1/locations/europe-west1/services/mlops-predict',
    ]);
  });
});

describe('lambda: the trainer image and what a deploy of some functions ships', () => {
  const dryRun = async (target: readonly FunctionName[], images: Record<string, string> = {}) => {
    const outDir = join(root, 'lambda-some', target.join('-'), String(Object.keys(images).length));
    const report = await deploy({
      target,
      provider: 'lambda',
      dryRun: true,
      skipBuild: true,
      images,
      outDir,
      functionsDir: functionsDir(),
      env: {},
      log: () => {},
    });
    const yml = parse(await readFile(join(outDir, 'lambda', 'serverless.yml'), 'utf8')) as {
      provider: { environment: Record<string, string> };
    };
    return { actions: report.actions, env: yml.provider.environment };
  };
  const ecr = (name: string) => `123456789012.dkr.ecr.eu-west-1.amazonaws.com/${name}@sha256:${'b'.repeat(64)}`;

  it('one function alone is `deploy function`; one whose URLs the stack sets, several, or a trainer image deploy the stack', async () => {
    expect((await dryRun(['predict'])).actions).toEqual(['serverless deploy function --function predict --stage prod']);
    expect((await dryRun(['evaluate'])).actions).toEqual(['serverless deploy --stage prod']);
    expect((await dryRun(['predict', 'promote'])).actions).toEqual(['serverless deploy --stage prod']);
    const withTrainer = await dryRun(['predict'], { 'mlops-trainer-cpu': ecr('mlops-trainer-cpu') });
    expect(withTrainer.actions).toEqual(['serverless deploy --stage prod']);
    expect(withTrainer.env['SAGEMAKER_IMAGE']).toBe(ecr('mlops-trainer-cpu'));
    const both = await dryRun(['retrain-trigger'], {
      'mlops-trainer-cpu': ecr('mlops-trainer-cpu'),
      'mlops-trainer-gpu': ecr('mlops-trainer-gpu'),
    });
    expect(both.env['SAGEMAKER_IMAGE']).toBe(ecr('mlops-trainer-gpu'));
  });
});

describe('lambda, a real deploy with the serverless CLI, the stack and the functions faked', () => {
  const lambdaEnv = {
    AWS_REGION: 'eu-west-1',
    MLOPS_STORE: 's3://b1/m',
    MLOPS_API_KEY_SECRET: '/mlops/key',
    JOBS_LAUNCHER: 'sagemaker',
    SAGEMAKER_ROLE_ARN: 'arn:aws:iam::123456789012:role/trainer',
    SAGEMAKER_OUTPUT_S3_URI: 's3://b1/m/training',
  };
  const running = `123456789012.dkr.ecr.eu-west-1.amazonaws.com/mlops-trainer-cpu@sha256:${'d'.repeat(64)}`;
  const fakes = (deployed: Record<string, string> | undefined) => {
    const calls: string[][] = [];
    const clients = {
      serverless: async (args: readonly string[], serviceDir: string) => {
        calls.push([...args]);
        const yml = parse(await readFile(join(serviceDir, 'serverless.yml'), 'utf8')) as {
          provider: { environment: Record<string, string> };
        };
        calls.push([`SAGEMAKER_IMAGE=${yml.provider.environment['SAGEMAKER_IMAGE'] ?? ''}`]);
        return { command: ['serverless', ...args], code: 0, stdout: 'deployed\n', stderr: '', ms: 1 };
      },
      stacks: {
        outputs: async (stack: string) => ({
          [`PredictLambdaFunctionQualifiedArn`]: `arn:aws:lambda:eu-west-1:123456789012:function:${stack}-predict:12`,
          HttpApiUrl: 'https://x1.execute-api.eu-west-1.amazonaws.com',
        }),
      },
      deployedFunctions: { environment: async () => deployed },
    };
    return { calls, clients };
  };
  const deployLambda = (clients: ReturnType<typeof fakes>['clients'], nonInteractive: boolean) =>
    deploy({
      target: ['predict'],
      provider: 'lambda',
      dryRun: false,
      nonInteractive,
      skipBuild: true,
      outDir: join(root, 'lambda-real'),
      functionsDir: functionsDir(),
      env: lambdaEnv,
      log: () => {},
      clients,
    });

  it('a pipeline deploys the stack, keeps the trainer image retrain-trigger runs, and reports the published version', async () => {
    const { calls, clients } = fakes({ SAGEMAKER_IMAGE: running, OTHER: 'x' });
    const report = await deployLambda(clients, true);
    expect(calls).toEqual([['deploy', '--stage', 'prod'], [`SAGEMAKER_IMAGE=${running}`]]);
    expect(report.live).toEqual([
      { name: 'predict', action: 'serverless deploy', live: 'version 12', url: 'https://x1.execute-api.eu-west-1.amazonaws.com' },
    ]);
  }, 60_000);

  it('by hand, one function is `deploy function`, which publishes no version: $LATEST', async () => {
    const { calls, clients } = fakes({ SAGEMAKER_IMAGE: running });
    const report = await deployLambda(clients, false);
    expect(calls[0]).toEqual(['deploy', 'function', '--function', 'predict', '--stage', 'prod']);
    expect(report.live).toEqual([{ name: 'predict', action: 'serverless deploy function --function predict', live: '$LATEST' }]);
  }, 60_000);

  it('SageMaker training with no trainer image anywhere is refused before serverless runs', async () => {
    const { calls, clients } = fakes(undefined);
    await expect(deployLambda(clients, true)).rejects.toThrow(
      'JOBS_LAUNCHER=sagemaker needs a trainer image: none was built (--images) or set (SAGEMAKER_IMAGE), and mlops-prod-retrain-trigger runs none yet',
    );
    expect(calls).toEqual([]);
  }, 60_000);
});

describe('dry run sized from a 266 MiB model', () => {
  const dryRun = async (provider: 'lambda' | 'cloudrun', outDir: string) => {
    const lines: string[] = [];
    await deploy({
      target: 'predict',
      provider,
      dryRun: true,
      skipBuild: true,
      outDir,
      functionsDir: functionsDir(),
      modelMiB: 266,
      env: {},
      log: (l) => lines.push(l),
    });
    return lines;
  };

  it('lambda: serverless.yml carries memorySize and ephemeralStorageSize, and the output says why', async () => {
    const outDir = join(root, 'sized-lambda');
    const lines = await dryRun('lambda', outDir);
    const yml = parse(await readFile(join(outDir, 'lambda', 'serverless.yml'), 'utf8')) as {
      functions: Record<string, { memorySize: number; ephemeralStorageSize?: number }>;
    };
    expect(yml.functions.predict).toMatchObject({ memorySize: 2240, ephemeralStorageSize: 1024 });
    expect(yml.functions['batch-score']).toMatchObject({ memorySize: 4096, ephemeralStorageSize: 1024 });
    expect(yml.functions.evaluate?.ephemeralStorageSize).toBeUndefined();
    expect(lines).toContain(
      'predict: memory 2240 MiB, /tmp 1024 MB (model 266 MiB: 3 models held at once × 2.25 + 384 MiB runtime; cache 3 × (266 MiB + 8 MiB))',
    );
  });

  it('cloudrun: the service request carries the memory with the in-memory cache, and the output says why', async () => {
    const outDir = join(root, 'sized-cloudrun');
    const lines = await dryRun('cloudrun', outDir);
    const req = (await readJson(join(outDir, 'cloudrun', 'predict', 'create-service.json'))) as {
      service: { template: { containers: { resources: { limits: Record<string, string> } }[] } };
    };
    expect(req.service.template.containers[0]?.resources.limits).toEqual({ cpu: '2', memory: '3Gi' });
    expect(lines).toContain(
      'predict: memory 3072 MiB, 2 CPU (model 266 MiB: 3 models held at once × 2.25 + 384 MiB runtime; cache 3 × (266 MiB + 8 MiB) in memory)',
    );
  });

  it('refuses a model the provider cannot hold, naming the function and the limit', async () => {
    await expect(
      deploy({ target: 'predict', provider: 'lambda', dryRun: true, skipBuild: true, modelMiB: 3000, env: {}, log: () => {} }),
    ).rejects.toThrow(/^predict: a 3000 MiB model needs more than Lambda's 10240 MB of memory/);
  });
});

describe('deploy/ specs', () => {
  it('writes the trainer jobs (CPU, L4 GPU), the scheduler job and the Eventarc trigger', async () => {
    const files = await writeDeploySpecs(root);
    expect(files.map((f) => f.slice(root.length + 1))).toEqual([
      'deploy/gcp/training-job.yaml',
      'deploy/gcp/training-job-gpu.yaml',
      'deploy/gcp/scheduler-evaluate.yaml',
      'deploy/gcp/eventarc-batch-score.yaml',
      'deploy/aws/serverless.yml',
    ]);
    type JobYaml = {
      kind: string;
      spec: {
        template: {
          spec: {
            template: { spec: { nodeSelector?: Record<string, string>; containers: { resources: { limits: Record<string, string> } }[] } };
          };
        };
      };
    };
    const gpu = parse(await readFile(join(root, 'deploy/gcp/training-job-gpu.yaml'), 'utf8')) as JobYaml;
    const cpu = parse(await readFile(join(root, 'deploy/gcp/training-job.yaml'), 'utf8')) as JobYaml;
    expect(gpu.kind).toBe('Job');
    expect(gpu.spec.template.spec.template.spec.nodeSelector).toEqual({ 'run.googleapis.com/accelerator': 'nvidia-l4' });
    expect(gpu.spec.template.spec.template.spec.containers[0]?.resources.limits['nvidia.com/gpu']).toBe('1');
    expect(cpu.spec.template.spec.template.spec.nodeSelector).toBeUndefined();
    const scheduler = parse(await readFile(join(root, 'deploy/gcp/scheduler-evaluate.yaml'), 'utf8')) as {
      job: { httpTarget: { oidcToken: { serviceAccountEmail: string } } };
    };
    expect(scheduler.job.httpTarget.oidcToken.serviceAccountEmail).toContain('iam.gserviceaccount.com');
    const eventarc = parse(await readFile(join(root, 'deploy/gcp/eventarc-batch-score.yaml'), 'utf8')) as {
      trigger: { destination: { cloudRun: { service: string } } };
    };
    expect(eventarc.trigger.destination.cloudRun.service).toBe('mlops-batch-score');
  });

  it('match the committed deploy/ files (regenerate with: npx tsx tools/deploy/src/main.ts specs)', async () => {
    const dir = join(root, 'committed-check');
    for (const file of await writeDeploySpecs(dir)) {
      const path = file.slice(dir.length + 1);
      expect(await readFile(join(REPO_ROOT, path), 'utf8'), path).toBe(await readFile(file, 'utf8'));
    }
  });
});
