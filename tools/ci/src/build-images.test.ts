import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from '@mlops/config';
import { afterAll, describe, expect, it } from 'vitest';

const tmp = mkdtempSync(join(tmpdir(), 'build-images-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const bin = join(tmp, 'bin');
const calls = join(tmp, 'calls.log');
/** A stand-in executable on PATH that records its arguments (one line per call) and then runs `body`. */
function fake(name: string, body: string) {
  writeFileSync(join(bin, name), `#!/bin/sh\nprintf '%s\\n' "${name} $*" >> ${calls}\n${body}\n`);
  chmodSync(join(bin, name), 0o755);
}
mkdirSync(bin);
// The digest the stand-in registry gives <repo>/<name>: derived from it, so each image has its own.
const digestOf = (repoAndName: string) => createHash('sha256').update(repoAndName).digest('hex');
fake(
  'docker',
  `case "$1" in
  login) printf 'login stdin=%s\\n' "$(cat)" >> ${calls} ;;
  image)
    for image; do :; done
    at="\${image%:*}"
    # Another repository's digest of the same image first: the script must pick its own repository's.
    echo "mirror.example.com/elsewhere/\${at##*/}@sha256:$(printf %s "other/$at" | sha256sum | cut -c1-64)"
    [ -n "\${FAKE_NO_DIGEST:-}" ] || echo "$at@sha256:$(printf %s "$at" | sha256sum | cut -c1-64)"
    ;;
esac`,
);
fake('gcloud', '');
fake('aws', '[ "$1 $2" = "ecr get-login-password" ] && echo fake-ecr-password');

let runs = 0;
/** Runs the script with only these variables (and a PATH whose docker, gcloud and aws are the stand-ins). */
function buildImages(vars: Record<string, string>) {
  rmSync(calls, { force: true });
  const dir = join(tmp, `run-${++runs}`);
  const out = join(dir, 'nested', 'images.json');
  const githubOutput = join(dir, 'github-output');
  const result = spawnSync('sh', ['tools/ci/scripts/build-images.sh'], {
    cwd: REPO_ROOT,
    env: { PATH: `${bin}:${process.env['PATH']}`, HOME: process.env['HOME'], IMAGES_OUT: out, GITHUB_OUTPUT: githubOutput, ...vars },
    encoding: 'utf8',
  });
  const read = (file: string) => (existsSync(file) ? readFileSync(file, 'utf8') : undefined);
  const log = read(calls);
  return {
    status: result.status,
    stdout: result.stdout,
    stderr: result.stderr,
    calls: log === undefined ? [] : log.trim().split('\n'),
    images: read(out) === undefined ? undefined : (JSON.parse(read(out)!) as Record<string, string>),
    githubOutput: read(githubOutput),
  };
}

const SHA = '0123456789abcdef0123456789abcdef01234567';
const GCP = 'europe-west1-docker.pkg.dev/p1/mlops';
const ECR = '123456789012.dkr.ecr.eu-west-1.amazonaws.com';

describe('build-images.sh: the images a deploy needs, at the commit, by digest', () => {
  it('Cloud Run: one image per function and the trainer, pushed to Artifact Registry', () => {
    const r = buildImages({
      MLOPS_PROVIDER: 'cloudrun',
      FUNCTIONS: '["predict","evaluate"]',
      TRAINER: 'true',
      IMAGE_TAG: SHA,
      GCP_IMAGE_REPO: GCP,
    });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.calls.filter((c) => c.startsWith('gcloud '))).toEqual(['gcloud auth configure-docker europe-west1-docker.pkg.dev --quiet']);
    expect(r.calls.filter((c) => c.startsWith('docker build '))).toEqual([
      `docker build -f deploy/functions.Dockerfile --build-arg FUNCTION=predict -t ${GCP}/mlops-predict:${SHA} .`,
      `docker build -f deploy/functions.Dockerfile --build-arg FUNCTION=evaluate -t ${GCP}/mlops-evaluate:${SHA} .`,
      `docker build -f deploy/trainer-cpu.Dockerfile -t ${GCP}/mlops-trainer-cpu:${SHA} .`,
    ]);
    expect(r.calls.filter((c) => c.startsWith('docker push '))).toEqual([
      `docker push ${GCP}/mlops-predict:${SHA}`,
      `docker push ${GCP}/mlops-evaluate:${SHA}`,
      `docker push ${GCP}/mlops-trainer-cpu:${SHA}`,
    ]);
    // Each image is pushed before its digest is read.
    const at = (call: string) => r.calls.indexOf(call);
    expect(at(`docker push ${GCP}/mlops-predict:${SHA}`)).toBeLessThan(
      r.calls.findIndex((c) => c.startsWith('docker image inspect') && c.endsWith(`${GCP}/mlops-predict:${SHA}`)),
    );
    const expected = Object.fromEntries(
      ['mlops-evaluate', 'mlops-predict', 'mlops-trainer-cpu'].map((name) => [name, `${GCP}/${name}@sha256:${digestOf(`${GCP}/${name}`)}`]),
    );
    expect(r.images).toEqual(expected);
    expect(Object.keys(r.images!)).toEqual(['mlops-evaluate', 'mlops-predict', 'mlops-trainer-cpu']);
    expect(r.githubOutput).toBe(`images=${JSON.stringify(expected)}\n`);
    expect(r.stdout).toContain(`images=${JSON.stringify(expected)}\n`);
    expect(r.stdout).toMatch(new RegExp(`built and pushed ${GCP}/mlops-trainer-cpu:${SHA} in \\d+s`));
  });

  it('Lambda: the CPU and GPU trainer images only (functions ship as zips), after an ECR login through a pipe', () => {
    const r = buildImages({
      MLOPS_PROVIDER: 'lambda',
      FUNCTIONS: '["predict","retrain-trigger"]',
      TRAINER: 'true',
      TRAINER_GPU: 'true',
      IMAGE_TAG: SHA,
      AWS_IMAGE_REPO: ECR,
      AWS_REGION: 'eu-west-1',
    });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    // Both ends of the pipe run at once, so they may log in either order; docker reads the password aws printed.
    expect(r.calls.slice(0, 3).sort()).toEqual(
      [
        'aws ecr get-login-password --region eu-west-1',
        `docker login --username AWS --password-stdin ${ECR}`,
        'login stdin=fake-ecr-password',
      ].sort(),
    );
    expect(r.calls.filter((c) => c.startsWith('docker build '))).toEqual([
      `docker build -f deploy/trainer-cpu.Dockerfile -t ${ECR}/mlops-trainer-cpu:${SHA} .`,
      `docker build -f deploy/trainer-gpu.Dockerfile -t ${ECR}/mlops-trainer-gpu:${SHA} .`,
    ]);
    expect(r.calls.filter((c) => c.startsWith('docker push '))).toEqual([
      `docker push ${ECR}/mlops-trainer-cpu:${SHA}`,
      `docker push ${ECR}/mlops-trainer-gpu:${SHA}`,
    ]);
    expect(r.calls.some((c) => c.startsWith('gcloud '))).toBe(false);
    expect(r.images).toEqual({
      'mlops-trainer-cpu': `${ECR}/mlops-trainer-cpu@sha256:${digestOf(`${ECR}/mlops-trainer-cpu`)}`,
      'mlops-trainer-gpu': `${ECR}/mlops-trainer-gpu@sha256:${digestOf(`${ECR}/mlops-trainer-gpu`)}`,
    });
  });

  it('Lambda without the trainer: {} and no registry, tag or docker needed', () => {
    const r = buildImages({ MLOPS_PROVIDER: 'lambda', FUNCTIONS: '["predict"]' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.calls).toEqual([]);
    expect(r.images).toEqual({});
    expect(r.githubOutput).toBe('images={}\n');
    expect(r.stdout).toContain('images={}\n');
  });

  it('stops before building anything when the registry variable is missing, naming it', () => {
    const gcp = buildImages({ MLOPS_PROVIDER: 'cloudfunctions', FUNCTIONS: '["predict"]', TRAINER: 'true', IMAGE_TAG: SHA });
    expect(gcp.status).not.toBe(0);
    expect(gcp.stderr).toMatch(/GCP_IMAGE_REPO/);
    expect(gcp.calls).toEqual([]);
    expect(gcp.images).toBeUndefined();

    const aws = buildImages({ MLOPS_PROVIDER: 'lambda', TRAINER: 'true', IMAGE_TAG: SHA, AWS_REGION: 'eu-west-1' });
    expect(aws.status).not.toBe(0);
    expect(aws.stderr).toMatch(/AWS_IMAGE_REPO/);
    expect(aws.calls).toEqual([]);
    expect(aws.images).toBeUndefined();
  });

  it('fails naming the image when docker has no digest of it from its own repository', () => {
    const r = buildImages({
      MLOPS_PROVIDER: 'cloudrun',
      FUNCTIONS: '["predict"]',
      IMAGE_TAG: SHA,
      GCP_IMAGE_REPO: GCP,
      FAKE_NO_DIGEST: '1',
    });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain(`${GCP}/mlops-predict:${SHA}`);
    expect(r.images).toBeUndefined();
    expect(r.githubOutput).toBeUndefined();
  });

  it('refuses an unknown provider and a FUNCTIONS that is not a JSON array of names', () => {
    const provider = buildImages({ MLOPS_PROVIDER: 'heroku', TRAINER: 'true' });
    expect(provider.status).not.toBe(0);
    expect(provider.stderr).toMatch(/MLOPS_PROVIDER must be cloudrun, cloudfunctions or lambda/);
    const functions = buildImages({ MLOPS_PROVIDER: 'cloudrun', FUNCTIONS: 'predict', IMAGE_TAG: SHA, GCP_IMAGE_REPO: GCP });
    expect(functions.status).not.toBe(0);
    expect(functions.stderr).toMatch(/FUNCTIONS must be a JSON array/);
    expect(functions.calls).toEqual([]);
  });
});
