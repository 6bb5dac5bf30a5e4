import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from '@mlops/config';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';

const setup = (file: string) => join(REPO_ROOT, 'deploy/github', file);
const workflow = readFileSync(join(REPO_ROOT, '.github/workflows/deploy-environment.yml'), 'utf8');
const bin = mkdtempSync(join(tmpdir(), 'fake-gcloud-'));
afterAll(() => rmSync(bin, { recursive: true, force: true }));

describe('the one-time cloud setup that lets GitHub deploy without a key', () => {
  it('GCP: a pool trusting this repository only, a deployer it may impersonate, and the variables the workflow reads', () => {
    // A stand-in gcloud on PATH: records each call, answers the project number.
    const calls = join(bin, 'calls.log');
    writeFileSync(join(bin, 'gcloud'), `#!/bin/sh\necho "$*" >> ${calls}\n[ "$1 $2" = "projects describe" ] && echo 123456 || true\n`);
    chmodSync(join(bin, 'gcloud'), 0o755);
    const out = execFileSync('sh', [setup('gcp-workload-identity.sh')], {
      env: {
        PATH: `${bin}:${process.env['PATH']}`,
        GCP_PROJECT: 'p1',
        GITHUB_REPOSITORY: 'acme/mlops',
        GCP_SERVICE_ACCOUNT: 'mlops-functions@p1.iam.gserviceaccount.com',
      },
    }).toString();
    const log = readFileSync(calls, 'utf8');
    expect(log).toContain("--attribute-condition=assertion.repository == 'acme/mlops'");
    expect(log).toContain('--issuer-uri=https://token.actions.githubusercontent.com');
    expect(log).toContain(
      'principalSet://iam.googleapis.com/projects/123456/locations/global/workloadIdentityPools/github/attribute.repository/acme/mlops',
    );
    expect(log).not.toMatch(/roles\/(owner|editor)\b/);
    // actAs on the functions' account only, not project-wide.
    expect(log).toMatch(
      /service-accounts add-iam-policy-binding mlops-functions@p1\.iam\.gserviceaccount\.com .*roles\/iam\.serviceAccountUser/,
    );
    const printed = Object.fromEntries(
      out
        .trim()
        .split('\n')
        .map((line) => line.split('=') as [string, string]),
    );
    expect(printed).toEqual({
      GCP_WORKLOAD_IDENTITY_PROVIDER: 'projects/123456/locations/global/workloadIdentityPools/github/providers/github-actions',
      GCP_DEPLOYER_SERVICE_ACCOUNT: 'mlops-deployer@p1.iam.gserviceaccount.com',
      GCP_PROJECT_NUMBER: '123456',
    });
    for (const name of Object.keys(printed)) expect(workflow).toContain(`vars.${name}`);
  });

  it("AWS: GitHub's OIDC provider and a role only this repository's staging and production jobs may assume", () => {
    const template = parse(readFileSync(setup('aws-github-oidc.yaml'), 'utf8')) as {
      Resources: Record<string, { Type: string; Properties: Record<string, unknown> }>;
      Outputs: Record<string, unknown>;
    };
    expect(template.Resources['GitHubOidcProvider']?.Properties).toMatchObject({
      Url: 'https://token.actions.githubusercontent.com',
      ClientIdList: ['sts.amazonaws.com'],
    });
    const role = template.Resources['DeployRole']!.Properties as {
      AssumeRolePolicyDocument: { Statement: { Action: string; Condition: Record<string, Record<string, unknown>> }[] };
      Policies: { PolicyDocument: { Statement: { Action: string[]; Resource: unknown }[] } }[];
    };
    const [trust] = role.AssumeRolePolicyDocument.Statement;
    expect(trust?.Action).toBe('sts:AssumeRoleWithWebIdentity');
    expect(trust?.Condition['StringEquals']).toEqual({ 'token.actions.githubusercontent.com:aud': 'sts.amazonaws.com' });
    expect(trust?.Condition['StringLike']).toEqual({
      'token.actions.githubusercontent.com:sub': [
        { 'Fn::Sub': 'repo:${Repository}:environment:staging' },
        { 'Fn::Sub': 'repo:${Repository}:environment:production' },
      ],
    });
    // Least privilege: no action on every resource but the few that have no resource to name.
    for (const statement of role.Policies.flatMap((p) => p.PolicyDocument.Statement)) {
      expect(statement.Action).not.toContain('*');
      if (statement.Resource === '*') for (const action of statement.Action) expect(action).not.toMatch(/^(iam|lambda|s3|ssm):/);
    }
    expect(template.Outputs['DeployRoleArn']).toEqual({ Value: { 'Fn::GetAtt': ['DeployRole', 'Arn'] } });
    expect(workflow).toContain('vars.AWS_DEPLOY_ROLE_ARN');
  });
});
