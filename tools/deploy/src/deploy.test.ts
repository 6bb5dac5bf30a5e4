import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from '@mlops/config';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { FUNCTIONS } from './config.ts';
import { deploy, writeDeploySpecs } from './deploy.ts';
import type { ServicesApi } from './providers/cloudrun/service.ts';
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
  const policies = new Map<string, { bindings: { role: string; members: string[] }[] }>();
  return {
    policies,
    api: {
      getIamPolicy: async ({ resource }: { resource: string }) =>
        [policies.get(resource) ?? { bindings: [] }] as [{ bindings: { role: string; members: string[] }[] }],
      setIamPolicy: async ({ resource, policy }: { resource: string; policy: { bindings?: unknown } }) => {
        policies.set(resource, policy as { bindings: { role: string; members: string[] }[] });
        return [policy] as [typeof policy];
      },
    },
  };
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

describe('cloud run canary and real calls (fake client)', () => {
  it('splits traffic between the named revision and the new one', async () => {
    const outDir = join(root, 'canary');
    await deploy({
      target: 'predict',
      provider: 'cloudrun',
      dryRun: true,
      canary: 'mlops-predict-00007-abc=90',
      outDir,
      env: {},
      log: () => {},
    });
    const req = (await readJson(join(outDir, 'cloudrun', 'predict', 'update-service.json'))) as {
      service: { name: string; traffic: unknown[] };
    };
    expect(req.service.name).toBe('projects/PROJECT_ID/locations/REGION/services/mlops-predict');
    expect(req.service.traffic).toEqual([
      { type: 'TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION', revision: 'mlops-predict-00007-abc', percent: 90 },
      { type: 'TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST', percent: 10, tag: 'canary' },
    ]);
    await expect(deploy({ target: 'predict', provider: 'lambda', dryRun: true, canary: 'x=1', env: {}, log: () => {} })).rejects.toThrow(
      /no revisions/,
    );
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
    const env = {
      GCP_PROJECT: 'p1',
      GCP_PROJECT_NUMBER: '123456789',
      GCP_REGION: 'europe-west1',
      GCP_SERVICE_ACCOUNT: 'sa@p1.iam.gserviceaccount.com',
      GCP_IMAGE_REPO: 'europe-west1-docker.pkg.dev/p1/mlops',
      MLOPS_STORE: 'gs://b1/m',
      MLOPS_API_KEY_SECRET: 'mlops-api-key',
    };
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
