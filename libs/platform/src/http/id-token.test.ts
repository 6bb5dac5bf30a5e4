import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getRequestListener } from '@hono/node-server';
import { Hono } from 'hono';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { requireCaller } from './auth.ts';
import { callFunction, FunctionCallError } from './client.ts';
import { HttpError, type FunctionEnv } from './http.ts';
import {
  closedPort,
  closeServer,
  listenLocal,
  startFakeMetadataServer,
  startTestIssuer,
  type FakeMetadataServer,
  type TestIssuer,
} from './oidc.testing.ts';

/** What the caller sees from a failed call: the error, and how long it took. */
async function failure(call: Promise<unknown>): Promise<{ error: unknown; ms: number }> {
  const started = performance.now();
  const error = await call.then(
    () => undefined,
    (e: unknown) => e,
  );
  return { error, ms: performance.now() - started };
}

describe('callFunction with Google ID tokens from the metadata server', () => {
  const ISS = 'https://issuer.test';
  const SA = 'evaluate@proj.iam.gserviceaccount.com';
  let issuer: TestIssuer;
  let metadata: FakeMetadataServer;
  let callee: Server;
  let calleeUrl: string;
  let home: string;
  let reached = 0;

  beforeAll(async () => {
    issuer = await startTestIssuer(ISS);
    metadata = await startFakeMetadataServer(issuer, SA);
    // Application Default Credentials must come from the metadata server alone: no key file, no gcloud login.
    home = await mkdtemp(join(tmpdir(), 'id-token-test-'));
    vi.stubEnv('GOOGLE_APPLICATION_CREDENTIALS', '');
    vi.stubEnv('HOME', home);
    vi.stubEnv('METADATA_SERVER_DETECTION', '');
    for (const serverless of ['K_SERVICE', 'FUNCTION_NAME', 'CLOUD_RUN_JOB']) vi.stubEnv(serverless, '');
    vi.stubEnv('GCE_METADATA_HOST', metadata.host);
    // Else the library asks `gcloud config` for the project first, which takes seconds where gcloud is installed.
    vi.stubEnv('GOOGLE_CLOUD_PROJECT', 'test-project');

    callee = createServer();
    calleeUrl = await listenLocal(callee);
    // The callee as deployed on Cloud Run: ID tokens for its own URL from our issuer, or the key.
    const app = new Hono<FunctionEnv>();
    app.onError((e, c) => (e instanceof HttpError ? c.json({ error: e.message }, e.status) : c.json({ error: 'internal' }, 500)));
    app.use(async (_c, next) => {
      reached += 1;
      await next();
    });
    app.post(
      '/v1/act',
      requireCaller({ apiKey: 'k', oidc: { audiences: [calleeUrl], issuers: [ISS], jwksUrl: issuer.jwksUrl } }),
      async (c) => c.json({ got: await c.req.json(), caller: c.get('caller') ?? null }),
    );
    callee.on('request', getRequestListener(app.fetch));
  });

  afterAll(async () => {
    vi.unstubAllEnvs();
    await Promise.all([closeServer(callee), metadata.close(), issuer.close(), rm(home, { recursive: true, force: true })]);
  });

  it('sends an ID token for the callee URL, which the callee verifies, and reuses it until it expires', async () => {
    await expect(callFunction({ url: calleeUrl }, 'v1/act', {})).rejects.toThrow(/answered 401: missing API key or ID token/);
    const answer = await callFunction({ url: calleeUrl, idTokenAudience: calleeUrl }, 'v1/act', { a: 1 });
    expect(answer).toEqual({ got: { a: 1 }, caller: { via: 'oidc', sub: '1234567890', issuer: ISS, email: SA } });
    expect(metadata.identityRequests).toEqual([calleeUrl]);
    await callFunction({ url: calleeUrl, idTokenAudience: calleeUrl }, 'v1/act', { a: 2 });
    expect(metadata.identityRequests).toEqual([calleeUrl]);
  });

  it('sends the key instead when both are set', async () => {
    const answer = await callFunction({ url: calleeUrl, apiKey: 'k', idTokenAudience: calleeUrl }, 'v1/act', {});
    expect(answer).toMatchObject({ caller: { via: 'api-key' } });
    expect(metadata.identityRequests).toEqual([calleeUrl]);
  });

  it('is refused by the callee with a token for another audience', async () => {
    const other = 'https://someone-else.a.run.app';
    const { error } = await failure(callFunction({ url: calleeUrl, idTokenAudience: other }, 'v1/act', {}));
    expect(metadata.identityRequests.at(-1)).toBe(other);
    expect(error).toBeInstanceOf(FunctionCallError);
    expect((error as FunctionCallError).status).toBe(401);
    expect((error as Error).message).toMatch(/answered 401: ID token audience is not one this function accepts/);
  });

  it('names the target and the metadata server when that is down, within the call timeout', async () => {
    vi.stubEnv('GCE_METADATA_HOST', `127.0.0.1:${await closedPort()}`);
    const before = reached;
    const audience = `${calleeUrl}/down`;
    const { error, ms } = await failure(callFunction({ url: calleeUrl, idTokenAudience: audience, timeoutMs: 3_000 }, 'v1/act', {}));
    expect(error).toBeInstanceOf(FunctionCallError);
    expect((error as FunctionCallError).status).toBeUndefined();
    expect((error as Error).message).toContain(`POST ${calleeUrl}/v1/act not sent: cannot get a Google ID token for audience ${audience}`);
    expect((error as Error).message).toMatch(/ECONNREFUSED|Could not load the default credentials/); // the library's reason
    expect((error as Error).message).toMatch(/metadata server .* GOOGLE_APPLICATION_CREDENTIALS/);
    expect(ms).toBeLessThan(3_000 + 1_000);
    expect(reached).toBe(before);
  });

  it('gives up at the call timeout when the metadata server never answers', async () => {
    const silent = createServer(() => {}); // accepts and never answers
    vi.stubEnv('GCE_METADATA_HOST', (await listenLocal(silent)).replace('http://', ''));
    try {
      const { error, ms } = await failure(
        callFunction({ url: calleeUrl, idTokenAudience: `${calleeUrl}/silent`, timeoutMs: 500 }, 'v1/act', {}),
      );
      expect(error).toBeInstanceOf(FunctionCallError);
      expect((error as Error).message).toMatch(/cannot get a Google ID token for audience .*\/silent \(no answer within 500 ms\)/);
      expect(ms).toBeGreaterThanOrEqual(450);
      expect(ms).toBeLessThan(1_500);
    } finally {
      silent.closeAllConnections();
      await closeServer(silent);
    }
  });
});
