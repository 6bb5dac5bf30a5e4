import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { createPromoteService } from './service.ts';

/** A well-formed RS256 JWT whose signature is never checked: the keys cannot be fetched. */
const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
const unverifiable = `${b64({ alg: 'RS256', kid: 'k1', typ: 'JWT' })}.${b64({ aud: 'https://promote.example', sub: '1' })}.${Buffer.from('sig').toString('base64url')}`;

it('guards every route but /healthz with the key and OIDC from the environment', async () => {
  const root = await mkdtemp(join(tmpdir(), 'promote-auth-'));
  const { app } = createPromoteService({
    MLOPS_STORE: join(root, 'store'),
    MLOPS_CACHE_DIR: join(root, 'cache'),
    MLOPS_API_KEY: 'k',
    MLOPS_OIDC_AUDIENCES: 'https://promote.example',
    // Nothing listens on port 9: the issuer keys are unavailable.
    MLOPS_OIDC_JWKS_URL: 'http://127.0.0.1:9/certs',
    LOG_LEVEL: 'silent',
  });
  const post = (path: string, headers: Record<string, string> = {}) => app.request(path, { method: 'POST', headers, body: '{}' });
  expect((await app.request('/healthz')).status).toBe(200);
  for (const path of ['/v1/candidates', '/v1/canary/review', '/v1/rollback']) {
    const res = await post(path);
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({ error: expect.stringMatching(/^missing API key or ID token/) });
  }
  const res = await post('/v1/canary/review', { authorization: `Bearer ${unverifiable}` });
  expect(res.status).toBe(503);
  expect(await res.json()).toMatchObject({ error: expect.stringMatching(/cannot verify the token now/) });
  expect((await post('/v1/canary/review', { authorization: 'Bearer k' })).status).toBe(200);
});

it('refuses allowed emails without audiences', () => {
  expect(() => createPromoteService({ MLOPS_OIDC_EMAILS: 'sched@p.iam.gserviceaccount.com', LOG_LEVEL: 'silent' })).toThrow(
    /MLOPS_OIDC_AUDIENCES is not/,
  );
});
