import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import type { JWTPayload } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireApiKey, requireCaller, type CallerPolicy } from './auth.ts';
import { callFunction, FunctionCallError } from './client.ts';
import { HttpError, requestContext, type FunctionEnv } from './http.ts';
import { closedPort, closeServer, listenLocal, startTestIssuer, type TestIssuer } from './oidc.testing.ts';

function app(key: string | undefined) {
  const a = new Hono();
  a.onError((e, c) => (e instanceof HttpError ? c.json({ error: e.message }, e.status) : c.json({ error: 'internal' }, 500)));
  a.post('/act', requireApiKey(key), async (c) => c.json({ got: await c.req.json() }));
  return a;
}

describe('requireApiKey and callFunction', () => {
  it('lets a caller with the key through and answers 401 JSON otherwise', async () => {
    const server = serve({ fetch: app('s3cret').fetch, port: 0, hostname: '127.0.0.1' });
    await new Promise((r) => server.once('listening', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      expect(await callFunction({ url, apiKey: 's3cret' }, '/act', { a: 1 })).toEqual({ got: { a: 1 } });
      const wrong = await callFunction({ url, apiKey: 'nope' }, '/act', {}).catch((e: unknown) => e);
      expect(wrong).toBeInstanceOf(FunctionCallError);
      expect((wrong as FunctionCallError).status).toBe(401);
      expect((wrong as Error).message).toMatch(/answered 401: wrong API key/);
      await expect(callFunction({ url }, '/act', {})).rejects.toThrow(/missing API key/);
      const header = await fetch(`${url}/act`, { method: 'POST', headers: { 'x-api-key': 's3cret' }, body: '{}' });
      expect(header.status).toBe(200);
    } finally {
      server.close();
    }
  });

  it('is open without a configured key, and names an unreachable target', async () => {
    const res = await app(undefined).request('/act', { method: 'POST', body: '{"b":2}' });
    expect(await res.json()).toEqual({ got: { b: 2 } });
    await expect(callFunction({ url: 'http://127.0.0.1:9', timeoutMs: 2000 }, '/act', {})).rejects.toThrow(
      /POST http:\/\/127\.0\.0\.1:9\/act failed/,
    );
  });
});

describe('requireCaller with OIDC ID tokens', () => {
  const AUD = 'https://evaluate-abc.a.run.app';
  const ISS = 'https://accounts.google.com';
  const EMAIL = 'scheduler@proj.iam.gserviceaccount.com';
  let issuer: TestIssuer;
  let jwksUrl: string;

  beforeAll(async () => {
    issuer = await startTestIssuer(ISS);
    jwksUrl = issuer.jwksUrl;
  });
  afterAll(() => issuer.close());

  const token = (claims: JWTPayload = {}, opts: { signer?: string; kid?: string; expiresIn?: number } = {}) =>
    issuer.token({ aud: AUD, email: EMAIL, email_verified: true, ...claims }, opts);

  const logs: Record<string, unknown>[] = [];
  const guarded = (policy: CallerPolicy) => {
    const a = new Hono<FunctionEnv>();
    a.use(...requestContext({ info: (fields) => void logs.push(fields) }));
    a.onError((e, c) => (e instanceof HttpError ? c.json({ error: e.message }, e.status) : c.json({ error: 'internal' }, 500)));
    a.post('/act', requireCaller(policy), (c) => c.json({ caller: c.get('caller') ?? null }));
    return a;
  };
  const call = async (a: Hono<FunctionEnv>, headers: Record<string, string>) => {
    const res = await a.request('/act', { method: 'POST', headers, body: '{}' });
    return { status: res.status, body: (await res.json()) as { caller?: unknown; error?: string } };
  };
  const bearer = (t: string) => ({ authorization: `Bearer ${t}` });

  it('lets a valid RS256 or ES256 ID token in and records who called', async () => {
    const a = guarded({ oidc: { audiences: ['https://other', AUD], issuers: [ISS], jwksUrl } });
    const ok = await call(a, bearer(await token()));
    expect(ok).toEqual({ status: 200, body: { caller: { via: 'oidc', sub: '1234567890', email: EMAIL, issuer: ISS } } });
    expect(logs.at(-1)).toMatchObject({ path: '/act', status: 200, caller: `oidc:${EMAIL}` });
    expect((await call(a, bearer(await token({}, { signer: 'ec-1' })))).status).toBe(200);
    expect(issuer.jwksRequests).toBe(1); // keys are cached between requests
  });

  it('answers 401 saying what is wrong with a token, without echoing it', async () => {
    const a = guarded({ oidc: { audiences: [AUD], issuers: [ISS], jwksUrl } });
    const cases: [string, string, RegExp][] = [
      ['wrong audience', await token({ aud: 'https://someone-else' }), /audience is not one this function accepts/],
      ['wrong issuer', await token({ iss: 'https://evil.example' }), /issuer is not one this function accepts/],
      ['expired', await token({}, { expiresIn: -120 }), /has expired/],
      ['bad signature', await token({}, { signer: 'unpublished', kid: 'rsa-1' }), /signature does not verify/],
      ['unknown kid', await token({}, { signer: 'unpublished' }), /unknown kid/],
      ['not a JWT', 'not.a.jwt', /neither the API key nor a well-formed ID token/],
    ];
    for (const [what, t, message] of cases) {
      const { status, body } = await call(a, bearer(t));
      expect({ what, status }).toEqual({ what, status: 401 });
      expect(body.error, what).toMatch(message);
      expect(body.error, what).not.toContain(t);
    }
    expect(await call(a, {})).toEqual({ status: 401, body: { error: 'missing ID token: send Authorization: Bearer <OIDC ID token>' } });
    expect((await call(a, { authorization: 'Basic dXNlcjpwYXNz' })).body.error).toMatch(/not "Bearer <token>"/);
  });

  it('admits only listed principals with verified emails when emails are configured', async () => {
    const a = guarded({ oidc: { audiences: [AUD], issuers: [ISS], jwksUrl, allowedEmails: [EMAIL.toUpperCase()] } });
    expect((await call(a, bearer(await token()))).status).toBe(200);
    expect(await call(a, bearer(await token({ email: 'intruder@proj.iam.gserviceaccount.com' })))).toEqual({
      status: 401,
      body: { error: 'ID token principal is not allowed to call this function' },
    });
    expect(await call(a, bearer(await token({ email_verified: false })))).toEqual({
      status: 401,
      body: { error: 'ID token email is not verified' },
    });
    expect((await call(a, bearer(await token({ email: undefined })))).body.error).toMatch(/carries no email/);
  });

  it('still takes the API key beside OIDC, as Bearer or X-Api-Key', async () => {
    const a = guarded({ apiKey: 's3cret', oidc: { audiences: [AUD], issuers: [ISS], jwksUrl } });
    expect(await call(a, bearer('s3cret'))).toEqual({ status: 200, body: { caller: { via: 'api-key' } } });
    expect(logs.at(-1)).toMatchObject({ caller: 'api-key' });
    expect(await call(a, { 'x-api-key': 's3cret' })).toEqual({ status: 200, body: { caller: { via: 'api-key' } } });
    expect(await call(a, { 'x-api-key': 'nope' })).toEqual({ status: 401, body: { error: 'wrong API key' } });
    expect((await call(a, bearer('nope'))).body.error).toMatch(/neither the API key nor a well-formed ID token/);
    expect((await call(a, bearer(await token()))).status).toBe(200);
    expect((await call(a, {})).body.error).toMatch(/^missing API key or ID token/);
  });

  it('answers 503 when the issuer keys cannot be fetched, and recovers', async () => {
    const port = await closedPort();
    const unreachable = guarded({ apiKey: 'k', oidc: { audiences: [AUD], issuers: [ISS], jwksUrl: `http://127.0.0.1:${port}/certs` } });
    expect(await call(unreachable, bearer(await token()))).toEqual({
      status: 503,
      body: { error: 'cannot verify the token now: the issuer keys are unavailable' },
    });
    expect((await call(unreachable, bearer('k'))).status).toBe(200); // the key does not need the issuer

    let failing = true;
    const flaky = createServer((_req, res) => {
      if (failing) res.writeHead(500).end('oops');
      else void fetch(jwksUrl).then(async (r) => res.writeHead(200, { 'content-type': 'application/json' }).end(await r.text()));
    });
    const flakyUrl = await listenLocal(flaky);
    try {
      const a = guarded({ oidc: { audiences: [AUD], issuers: [ISS], jwksUrl: `${flakyUrl}/certs` } });
      expect((await call(a, bearer(await token()))).status).toBe(503);
      failing = false;
      expect((await call(a, bearer(await token()))).status).toBe(200);
    } finally {
      await closeServer(flaky);
    }
  });
});
