import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { callerAuthSettings, callerPolicyFrom, describeCallerPolicy } from './auth-settings.ts';

const parse = (env: Record<string, string>) => z.object(callerAuthSettings).parse(env);

describe('caller auth settings', () => {
  it('is open with nothing set, and treats a blank key as none', () => {
    expect(callerPolicyFrom(parse({}))).toEqual({});
    expect(callerPolicyFrom(parse({ MLOPS_API_KEY: ' ', MLOPS_OIDC_AUDIENCES: '' }))).toEqual({});
    expect(describeCallerPolicy({})).toMatch(/^open: neither MLOPS_API_KEY nor MLOPS_OIDC_AUDIENCES is set/);
  });

  it('turns OIDC on with audiences, defaulting to Google issuer and keys', () => {
    const policy = callerPolicyFrom(parse({ MLOPS_API_KEY: 'k', MLOPS_OIDC_AUDIENCES: 'https://a.run.app, https://b.run.app', MLOPS_OIDC_EMAILS: 'sched@p.iam.gserviceaccount.com' }));
    expect(policy).toEqual({
      apiKey: 'k',
      oidc: {
        audiences: ['https://a.run.app', 'https://b.run.app'],
        issuers: ['https://accounts.google.com'],
        jwksUrl: 'https://www.googleapis.com/oauth2/v3/certs',
        allowedEmails: ['sched@p.iam.gserviceaccount.com'],
      },
    });
    expect(describeCallerPolicy(policy)).toMatch(/the API key or OIDC ID tokens/);
    expect(describeCallerPolicy(policy)).not.toContain('k,');
    expect(callerPolicyFrom(parse({ MLOPS_OIDC_AUDIENCES: 'x', MLOPS_OIDC_ISSUERS: 'https://i.example', MLOPS_OIDC_JWKS_URL: 'https://i.example/jwks' })).oidc).toEqual({
      audiences: ['x'],
      issuers: ['https://i.example'],
      jwksUrl: 'https://i.example/jwks',
    });
  });

  it('rejects bad values, and emails without audiences', () => {
    expect(() => parse({ MLOPS_OIDC_ISSUERS: 'not a url' })).toThrow();
    expect(() => parse({ MLOPS_OIDC_EMAILS: 'nobody' })).toThrow();
    expect(() => callerPolicyFrom(parse({ MLOPS_OIDC_EMAILS: 'a@b.example' }))).toThrow(/MLOPS_OIDC_AUDIENCES is not/);
  });
});
