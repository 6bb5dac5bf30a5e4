import { describe, expect, it } from 'vitest';
import { DeploySettingsError, functionEnvFrom, parseStore } from './config.ts';
import { gcpEnv } from './test-env.ts';
import { loadDeploySettings } from './providers/index.ts';

describe('loadDeploySettings', () => {
  it('names every missing variable in one error for a real deploy', () => {
    const attempt = () => loadDeploySettings({}, 'cloudrun', false);
    expect(attempt).toThrow(DeploySettingsError);
    expect(attempt).toThrow(
      'deploy to cloudrun needs GCP_PROJECT, GCP_PROJECT_NUMBER, GCP_REGION, GCP_SERVICE_ACCOUNT, GCP_IMAGE_REPO, MLOPS_STORE',
    );
    expect(() => loadDeploySettings({ GCP_PROJECT: 'p', GCP_REGION: 'europe-west1' }, 'cloudfunctions', false)).toThrow(
      'deploy to cloudfunctions needs GCP_SERVICE_ACCOUNT, MLOPS_STORE',
    );
    expect(() => loadDeploySettings({ MLOPS_STORE: 's3://b/mlops' }, 'lambda', false)).toThrow(
      'deploy to lambda needs AWS_REGION (missing',
    );
  });

  it('refuses a store a function instance cannot reach', () => {
    expect(() => loadDeploySettings({ AWS_REGION: 'eu-west-1', MLOPS_STORE: '/tmp/x' }, 'lambda', false)).toThrow(/s3:\/\//);
  });

  it('fills placeholders in a dry run and lists them', () => {
    const s = loadDeploySettings({ GCP_PROJECT: 'p1' }, 'cloudrun', true);
    expect(s.gcp.project).toBe('p1');
    expect(s.gcp.region).toBe('REGION');
    expect(s.placeholders).toEqual(['GCP_PROJECT_NUMBER', 'GCP_REGION', 'GCP_SERVICE_ACCOUNT', 'GCP_IMAGE_REPO', 'MLOPS_STORE']);
    expect(s.secrets).toEqual({}); // GCP: the deploy wires OIDC, no key needed
    expect(loadDeploySettings({}, 'lambda', true).secrets).toEqual({ MLOPS_API_KEY: 'MLOPS_API_KEY_SECRET' });
  });

  it('takes a complete environment as is', () => {
    const env = gcpEnv;
    const s = loadDeploySettings({ ...env, PREDICT_MAX_BATCH: '16', HOME: '/root' }, 'cloudrun', false);
    expect(s.placeholders).toEqual([]);
    expect(s.storeLocation).toEqual({ scheme: 'gs', bucket: 'b1', prefix: 'm/' });
    expect(s.functionEnv).toEqual({ MLOPS_STORE: 'gs://b1/m', PREDICT_MAX_BATCH: '16' });
    expect(s.secrets).toEqual({ MLOPS_API_KEY: 'mlops-api-key' });
  });
});

describe('who may call the deployed functions, and their secrets', () => {
  const lambda = { AWS_REGION: 'eu-west-1', MLOPS_STORE: 's3://b/m' };

  it('refuses a real deploy that says nothing about callers: the functions would refuse to start', () => {
    expect(() => loadDeploySettings(lambda, 'lambda', false)).toThrow(
      /the functions would refuse to start, or each other: .* Set MLOPS_API_KEY_SECRET .*, or MLOPS_ALLOW_OPEN=true/,
    );
    // Audiences alone: the functions and the schedule would have no key to call with.
    expect(() => loadDeploySettings({ ...lambda, MLOPS_OIDC_AUDIENCES: 'https://x.example' }, 'lambda', false)).toThrow(/refuse to start/);
    const open = loadDeploySettings({ ...lambda, MLOPS_ALLOW_OPEN: 'true' }, 'lambda', false);
    expect(open.functionEnv['MLOPS_ALLOW_OPEN']).toBe('true');
  });

  it('refuses a secret given in plain text, naming it but never its value', () => {
    const attempt = () =>
      loadDeploySettings({ ...lambda, MLOPS_API_KEY: 'sentinel-key', ALERT_SMTP_URL: 'smtp://u:sentinel-pw@h' }, 'lambda', false);
    expect(attempt).toThrow(
      /^MLOPS_API_KEY, ALERT_SMTP_URL would be written in plain text .* set MLOPS_API_KEY_SECRET, ALERT_SMTP_URL_SECRET/,
    );
    let message = '';
    try {
      attempt();
    } catch (error) {
      message = String(error);
    }
    expect(message).not.toMatch(/sentinel/);
  });

  it('passes secrets by reference only, and never as a function variable', () => {
    const s = loadDeploySettings(
      { ...lambda, MLOPS_API_KEY_SECRET: '/mlops/api-key', ALERT_WEBHOOK_URL_SECRET: '/mlops/webhook', ALERT_EMAIL_TO: 'a@b.c' },
      'lambda',
      false,
    );
    expect(s.secrets).toEqual({ MLOPS_API_KEY: '/mlops/api-key', ALERT_WEBHOOK_URL: '/mlops/webhook' });
    expect(s.functionEnv).toEqual({ ALERT_EMAIL_TO: 'a@b.c', MLOPS_STORE: 's3://b/m' });
  });
});

describe('helpers', () => {
  it('parses store URLs', () => {
    expect(parseStore('s3://bucket')).toEqual({ scheme: 's3', bucket: 'bucket', prefix: '' });
    expect(parseStore('gs://bucket/a/b/')).toEqual({ scheme: 'gs', bucket: 'bucket', prefix: 'a/b/' });
  });
  it('passes only function settings on', () => {
    expect(functionEnvFrom({ PATH: '/bin', MLOPS_BUCKET: 'b', ALERT_EMAIL_TO: 'a@b.c', LOG_LEVEL: 'debug' })).toEqual({
      ALERT_EMAIL_TO: 'a@b.c',
      LOG_LEVEL: 'debug',
    });
  });
});
