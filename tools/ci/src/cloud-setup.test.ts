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
        GCP_REGION: 'europe-west1',
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
    // Pushing images to Artifact Registry and replacing Cloud Run services and the trainer's Cloud Run Jobs.
    const projectRoles = [...log.matchAll(/^projects add-iam-policy-binding p1 .*--role=(\S+)/gm)].map((m) => m[1]);
    expect(projectRoles).toContain('roles/artifactregistry.writer');
    expect(projectRoles.some((role) => role === 'roles/run.admin' || role === 'roles/run.developer')).toBe(true);
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
      GCP_IMAGE_REPO: 'europe-west1-docker.pkg.dev/p1/mlops',
    });
    expect(log).toContain('artifacts repositories create mlops --project=p1 --location=europe-west1 --repository-format=docker');
    for (const name of Object.keys(printed)) expect(workflow).toContain(`vars.${name}`);
  });

  it("AWS: GitHub's OIDC provider and a role only this repository's staging and production jobs may assume", () => {
    const text = readFileSync(setup('aws-github-oidc.yaml'), 'utf8');
    // CloudFormation refuses YAML aliases, which parse() would quietly expand.
    expect(text).not.toMatch(/: [&*]\w/);
    const template = parse(text) as {
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

    // The trainer's image repositories (the names build-images.sh pushes to): scanned, and old images expire.
    type Repository = { id: string; ImageScanningConfiguration: unknown; LifecyclePolicy: { LifecyclePolicyText: string } };
    const repositories: Record<string, Repository> = Object.fromEntries(
      Object.entries(template.Resources)
        .filter(([, r]) => r.Type === 'AWS::ECR::Repository')
        .map(([id, r]) => [r.Properties['RepositoryName'], { id, ...r.Properties }]),
    );
    expect(Object.keys(repositories).sort()).toEqual(['mlops-trainer-cpu', 'mlops-trainer-gpu']);
    for (const repository of Object.values(repositories)) {
      expect(repository.ImageScanningConfiguration).toEqual({ ScanOnPush: true });
      expect(JSON.parse(repository.LifecyclePolicy.LifecyclePolicyText)).toEqual({
        rules: [
          {
            rulePriority: 1,
            description: 'keep the last 50 images',
            selection: { tagStatus: 'any', countType: 'imageCountMoreThan', countNumber: 50 },
            action: { type: 'expire' },
          },
        ],
      });
    }
    // Push rights: the login token on "*" (it names no resource), every other ECR action on those two repositories only.
    const statements = role.Policies.flatMap((p) => p.PolicyDocument.Statement);
    const ecr = statements.filter((s) => s.Action.some((a) => a.startsWith('ecr:')));
    expect(ecr.every((s) => s.Action.every((a) => a.startsWith('ecr:')))).toBe(true);
    const login = ecr.filter((s) => s.Resource === '*');
    expect(login.flatMap((s) => s.Action)).toEqual(['ecr:GetAuthorizationToken']);
    const push = ecr.filter((s) => s.Resource !== '*');
    expect(push).toHaveLength(1);
    expect(push[0]!.Action.sort()).toEqual(
      [
        'ecr:BatchCheckLayerAvailability',
        'ecr:BatchGetImage',
        'ecr:CompleteLayerUpload',
        'ecr:InitiateLayerUpload',
        'ecr:PutImage',
        'ecr:UploadLayerPart',
      ].sort(),
    );
    expect(push[0]!.Resource).toEqual(Object.values(repositories).map((r) => ({ 'Fn::GetAtt': [r.id, 'Arn'] })));
    // The deploy sets retrain-trigger's SAGEMAKER_IMAGE; starting training jobs is that function's role, not the deploy's.
    expect(statements.flatMap((s) => s.Action).filter((a) => a.startsWith('sagemaker:'))).toEqual([]);
    expect(template.Outputs['ImageRepo']).toMatchObject({ Value: { 'Fn::Sub': '${AWS::AccountId}.dkr.ecr.${AWS::Region}.amazonaws.com' } });
  });
});
