import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { callAuthFrom, callAuthSettings, callerAuthSettings, callerPolicyFrom, describeCallerPolicy } from './auth-settings.ts';

const parse = (env: Record<string, string>) => z.object(callerAuthSettings).parse(env);

describe('caller auth settings', () => {
  it('is open with nothing set, and treats a blank key as none', () => {
    expect(callerPolicyFrom(parse({}))).toEqual({});
    expect(callerPolicyFrom(parse({ MLOPS_API_KEY: ' ', MLOPS_OIDC_AUDIENCES: '' }))).toEqual({});
    expect(describeCallerPolicy({})).toMatch(/^open: neither MLOPS_API_KEY nor MLOPS_OIDC_AUDIENCES is set/);
  });

  it('turns OIDC on with audiences, defaulting to Google issuer and keys', () => {
    const policy = callerPolicyFrom(
      parse({
        MLOPS_API_KEY: 'k',
        MLOPS_OIDC_AUDIENCES: 'https://a.run.app, https://b.run.app',
        MLOPS_OIDC_EMAILS: 'sched@p.iam.gserviceaccount.com',
      }),
    );
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
    expect(
      callerPolicyFrom(
        parse({ MLOPS_OIDC_AUDIENCES: 'x', MLOPS_OIDC_ISSUERS: 'https://i.example', MLOPS_OIDC_JWKS_URL: 'https://i.example/jwks' }),
      ).oidc,
    ).toEqual({
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

describe('call auth settings', () => {
  const parseCall = (env: Record<string, string>) => z.object({ ...callerAuthSettings, ...callAuthSettings }).parse(env);
  const URL_A = 'https://promote-abc.a.run.app';

  it('sends the key when there is one and nothing otherwise, unless told', () => {
    expect(callAuthFrom(parseCall({ MLOPS_API_KEY: 'k' }), [URL_A]).target(URL_A)).toEqual({ url: URL_A, apiKey: 'k' });
    expect(callAuthFrom(parseCall({ MLOPS_CALL_AUTH: ' ' }), [URL_A]).target(URL_A, 5)).toEqual({ url: URL_A, timeoutMs: 5 });
    expect(callAuthFrom(parseCall({ MLOPS_API_KEY: 'k', MLOPS_CALL_AUTH: 'none' }), [URL_A]).target(URL_A)).toEqual({ url: URL_A });
  });

  it('asks for an ID token whose audience is the callee URL in id-token mode, even beside a key', () => {
    const calls = callAuthFrom(parseCall({ MLOPS_API_KEY: 'k', MLOPS_CALL_AUTH: 'id-token' }), [undefined, URL_A]);
    expect(calls.mode).toBe('id-token');
    expect(calls.target(URL_A, 600_000)).toEqual({ url: URL_A, idTokenAudience: URL_A, timeoutMs: 600_000 });
  });

  it('rejects an unknown mode, a key mode without a key, and id-token mode with nobody to call', () => {
    expect(() => parseCall({ MLOPS_CALL_AUTH: 'oidc' })).toThrow();
    expect(() => callAuthFrom(parseCall({ MLOPS_CALL_AUTH: 'api-key' }), [URL_A])).toThrow(/MLOPS_API_KEY is not set/);
    expect(() => callAuthFrom(parseCall({ MLOPS_CALL_AUTH: 'id-token' }), [undefined, undefined])).toThrow(/no other function to call/);
  });
});
