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

/** The deploy job's environment as the workflow writes it: `${{ vars.X }}` and `${{ inputs.x }}` filled in from `values`. */
function workflowEnv(values: Record<string, string>): Record<string, string> {
  const workflow = z
    .object({ jobs: z.object({ deploy: z.object({ env: z.record(z.string(), z.string()) }) }) })
    .parse(parse(readFileSync(join(REPO_ROOT, '.github/workflows/deploy-environment.yml'), 'utf8')));
  const env: Record<string, string> = {};
  for (const [name, expression] of Object.entries(workflow.jobs.deploy.env)) {
    const ref = /^\$\{\{ (?:vars|inputs)\.(\w+) \}\}$/.exec(expression)?.[1];
    if (ref === undefined) throw new Error(`${name}: ${expression} is not a variable or an input`);
    env[name] = values[ref] ?? ''; // an unset repository variable reads as empty in Actions
  }
  return env;
}

const deployStep = (env: Record<string, string>) =>
  run('sh', ['tools/ci/scripts/deploy-functions.sh'], {
    cwd: REPO_ROOT,
    env: { PATH: process.env['PATH'], HOME: process.env['HOME'], ...env, DRY_RUN: 'true', OUT: out },
    maxBuffer: 64 * 1024 * 1024,
  });

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

  it('deploys to Cloud Run at the commit, with OIDC wired', async () => {
    const env = workflowEnv({
      MLOPS_PROVIDER: 'cloudrun',
      functions: '["retrain-trigger"]',
      ref: 'abc123',
      GCP_PROJECT: 'p1',
      GCP_PROJECT_NUMBER: '42',
      GCP_REGION: 'europe-west1',
      GCP_SERVICE_ACCOUNT: 'mlops@p1.iam.gserviceaccount.com',
      GCP_IMAGE_REPO: 'europe-west1-docker.pkg.dev/p1/mlops',
      MLOPS_STORE: 'gs://mlops-prod/m',
    });
    const { stdout } = await deployStep(env);
    expect(stdout).not.toContain('placeholders stand in');
    const request = JSON.parse(readFileSync(join(out, 'cloudrun', 'retrain-trigger', 'create-service.json'), 'utf8')) as {
      service: { template: { containers: { image: string; env: { name: string; value?: string }[] }[] } };
    };
    const container = request.service.template.containers[0]!;
    expect(container.image).toBe('europe-west1-docker.pkg.dev/p1/mlops/mlops-retrain-trigger:abc123');
    expect(container.env).toContainEqual({ name: 'MLOPS_OIDC_AUDIENCES', value: 'https://mlops-retrain-trigger-42.europe-west1.run.app' });
  });

  it('stops at once, naming the variable, when MLOPS_PROVIDER is not set', async () => {
    await expect(deployStep(workflowEnv({ functions: '["predict"]' }))).rejects.toThrow(/set the repository variable MLOPS_PROVIDER/);
  });
});
