import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT } from '@mlops/config';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { z } from 'zod';

const run = promisify(execFile);
const out = mkdtempSync(join(tmpdir(), 'deploy-step-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));

const jobSchema = z.object({
  env: z.record(z.string(), z.string()),
  steps: z.array(z.object({ run: z.string().optional(), env: z.record(z.string(), z.string()).optional() })),
});

/**
 * The deploy step's environment as the workflow writes it (the job's, then the step's own):
 * `${{ vars.X }}`, `${{ inputs.x }}` and `${{ a || b }}` of those and step outputs filled in from `values` by name.
 */
function workflowEnv(values: Record<string, string>): Record<string, string> {
  const job = z
    .object({ jobs: z.object({ deploy: jobSchema }) })
    .parse(parse(readFileSync(join(REPO_ROOT, '.github/workflows/deploy-environment.yml'), 'utf8'))).jobs.deploy;
  const step = job.steps.find((s) => s.run?.includes('deploy-functions.sh'));
  const env: Record<string, string> = {};
  for (const [name, expression] of Object.entries({ ...job.env, ...step?.env })) {
    const body = /^\$\{\{ (.+) \}\}$/.exec(expression)?.[1];
    const refs = body?.split(' || ').map((ref) => /^(?:vars|inputs|steps\.\w+\.outputs)\.(\w+)$/.exec(ref)?.[1]);
    if (!refs || refs.some((ref) => ref === undefined)) throw new Error(`${name}: ${expression} is not variables, inputs or step outputs`);
    // An unset repository variable reads as empty in Actions; `a || b` is the first that is not.
    env[name] = refs.map((ref) => values[ref!] ?? '').find((v) => v !== '') ?? '';
  }
  return env;
}

const deployStep = (env: Record<string, string>, { dryRun = true, summary = '' } = {}) =>
  run('sh', ['tools/ci/scripts/deploy-functions.sh'], {
    cwd: REPO_ROOT,
    env: {
      PATH: process.env['PATH'],
      HOME: process.env['HOME'],
      ...env,
      DRY_RUN: String(dryRun),
      OUT: out,
      GITHUB_STEP_SUMMARY: summary,
    },
    maxBuffer: 64 * 1024 * 1024,
  });

const COMMIT = '1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d';
const gcp = {
  MLOPS_PROVIDER: 'cloudrun',
  ref: COMMIT,
  GCP_PROJECT: 'p1',
  GCP_PROJECT_NUMBER: '42',
  GCP_REGION: 'europe-west1',
  GCP_SERVICE_ACCOUNT: 'mlops@p1.iam.gserviceaccount.com',
  GCP_IMAGE_REPO: 'europe-west1-docker.pkg.dev/p1/mlops',
  MLOPS_STORE: 'gs://mlops-prod/m',
};
const byDigest = (name: string) => `europe-west1-docker.pkg.dev/p1/mlops/${name}@sha256:${'c'.repeat(64)}`;

describe('the deploy step with the environment the workflow gives it (dry run)', () => {
  it('deploys the affected functions to Lambda, the key by reference', async () => {
    const env = workflowEnv({
      MLOPS_PROVIDER: 'lambda',
      functions: '["promote","evaluate"]',
      ref: 'abc123',
      AWS_REGION: 'eu-west-1',
      MLOPS_STORE: 's3://mlops-prod/m',
      MLOPS_API_KEY_SECRET: '/mlops/prod/api-key',
    });
    const { stdout } = await deployStep(env);
    expect(stdout).toContain('would run in');
    const yml = parse(readFileSync(join(out, 'lambda', 'serverless.yml'), 'utf8')) as {
      provider: { region: string; environment: Record<string, string> };
    };
    expect(yml.provider.region).toBe('eu-west-1');
    expect(yml.provider.environment).toMatchObject({ MLOPS_STORE: 's3://mlops-prod/m', MLOPS_API_KEY: '${ssm:/mlops/prod/api-key}' });
  });

  it("deploys to Cloud Run the images by digest, the new revisions tagged with the commit, the functions' settings from their variable", async () => {
    const summary = join(out, 'summary.md');
    const env = workflowEnv({
      ...gcp,
      environment: 'staging',
      functions: '["retrain-trigger"]',
      base: 'f00dfeed',
      // What build-images.sh gave the step: the function's image and the trainer's.
      images: JSON.stringify({
        'mlops-retrain-trigger': byDigest('mlops-retrain-trigger'),
        'mlops-trainer-cpu': byDigest('mlops-trainer-cpu'),
      }),
      MLOPS_FUNCTION_SETTINGS: 'JOBS_LAUNCHER=cloudrun\nCLOUD_RUN_PROJECT=p1\nCLOUD_RUN_REGION=europe-west1\nCLOUD_RUN_JOB=mlops-trainer\n',
      CLOUDRUN_NEW_REVISION_PERCENT: '100',
    });
    const { stdout } = await deployStep(env, { summary });
    expect(stdout).not.toContain('placeholders stand in');
    expect(stdout).toContain(`updateJob with its container's image set to ${byDigest('mlops-trainer-cpu')}`);
    const request = JSON.parse(readFileSync(join(out, 'cloudrun', 'retrain-trigger', 'update-service.json'), 'utf8')) as {
      service: {
        template: { revision: string; containers: { image: string; env: { name: string; value?: string }[] }[] };
        traffic: { revision: string; percent: number; tag?: string }[];
      };
    };
    const container = request.service.template.containers[0]!;
    expect(container.image).toBe(byDigest('mlops-retrain-trigger'));
    expect(container.env).toContainEqual({ name: 'MLOPS_OIDC_AUDIENCES', value: 'https://mlops-retrain-trigger-42.europe-west1.run.app' });
    expect(container.env).toContainEqual({ name: 'JOBS_LAUNCHER', value: 'cloudrun' });
    expect(container.env).toContainEqual({ name: 'CLOUD_RUN_JOB', value: 'mlops-trainer' });
    expect(container.env.map((e) => e.name)).not.toContain('MLOPS_PROVIDER');
    expect(request.service.template.revision).toMatch(/^mlops-retrain-trigger-sha-1a2b3c4-/);
    expect(request.service.traffic).toEqual([
      expect.objectContaining({ revision: request.service.template.revision, percent: 100, tag: 'sha-1a2b3c4' }),
      expect.objectContaining({ revision: 'SERVING_REVISION', percent: 0, tag: 'previous' }),
    ]);
    const table = readFileSync(summary, 'utf8');
    expect(table).toContain(`## staging: retrain-trigger\n\nCommit \`${COMMIT}\`, changes since \`f00dfeed\`.`);
    expect(table).toContain(
      `| retrain-trigger | would create or update | \`${byDigest('mlops-retrain-trigger')}\` | \`${request.service.template.revision}\` | https://mlops-retrain-trigger-42.europe-west1.run.app | sha-1a2b3c4 100% · previous 0% |`,
    );
    expect(table).toContain(`| mlops-trainer-cpu | would set the image | \`${byDigest('mlops-trainer-cpu')}\` |`);
  });

  it('a real deploy without the digest of an image fails before anything is sent, with one message', async () => {
    const env = workflowEnv({
      ...gcp,
      functions: '["predict","promote"]',
      images: JSON.stringify({ 'mlops-promote': byDigest('mlops-promote') }),
    });
    const failed = await deployStep(env, { dryRun: false }).then(
      () => undefined,
      (error: { stderr: string }) => error.stderr,
    );
    expect(failed?.trim()).toBe(
      'deploy: deploy to cloudrun needs mlops-predict by digest (--images, as tools/ci/scripts/build-images.sh writes it): a pipeline never deploys an image by its tag',
    );
  });

  it('the traffic step names what it is missing before it calls Cloud Run', async () => {
    const shift = (env: Record<string, string>) =>
      run('sh', ['tools/ci/scripts/shift-traffic.sh'], {
        cwd: REPO_ROOT,
        env: { PATH: process.env['PATH'], HOME: process.env['HOME'], ...env },
      }).then(
        () => '',
        (error: { stderr: string }) => error.stderr.trim(),
      );
    expect(await shift({ FUNCTION: 'predict' })).toMatch(/TO must be a revision tag/);
    expect(await shift({ FUNCTION: 'predict', TO: 'sha-1a2b3c4', GCP_PROJECT: 'p1' })).toBe(
      'deploy: deploy to cloudrun needs GCP_PROJECT_NUMBER, GCP_REGION, GCP_SERVICE_ACCOUNT, GCP_IMAGE_REPO, MLOPS_STORE (missing from the environment); set them or use --dry-run to print the manifests with placeholders',
    );
    expect(await shift({ FUNCTION: 'predict', TO: 'sha-1a2b3c4', PERCENT: '0' })).toMatch(/percent/);
  });

  it('stops at once, naming the variable, when MLOPS_PROVIDER is not set', async () => {
    await expect(deployStep(workflowEnv({ functions: '["predict"]' }))).rejects.toThrow(/set the repository variable MLOPS_PROVIDER/);
  });
});
