import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import { handleErrors, statusOfError, STATUS_BY_ERROR_CODE } from './errors.ts';
import { HttpError, requestContext, type FunctionEnv } from './http.ts';

/** An error as the libs and apps throw them: a message and a code, no status. */
class CodedError extends Error {
  constructor(
    readonly code: string,
    message = `failed with ${code}`,
    readonly details?: unknown,
  ) {
    super(message);
  }
}

describe('statusOfError', () => {
  const expected: [string, number][] = [
    ['UNKNOWN_VERSION', 404],
    ['UNKNOWN_ALIAS', 404],
    ['UNKNOWN_PREDICTION', 404],
    ['ALIAS_CONFLICT', 409],
    ['NO_CHAMPION', 409],
    ['NOT_FINE_TUNABLE', 409],
    ['ALREADY_CHAMPION', 409],
    ['CANARY_RUNNING', 409],
    ['NO_EARLIER_CHAMPION', 409],
    ['UNKNOWN_LABEL', 400],
    ['NO_MODEL', 503],
    ['OVERLOADED', 503],
  ];
  it.each(expected)('maps the domain code %s to %i', (code, status) => {
    expect(statusOfError(new CodedError(code))).toBe(status);
  });

  it('maps no code beyond those', () => {
    expect(Object.keys(STATUS_BY_ERROR_CODE).sort()).toEqual(expected.map(([code]) => code).sort());
  });

  it('keeps an HttpError status and leaves every other error to a 500', () => {
    expect(statusOfError(new HttpError(413, 'too large'))).toBe(413);
    for (const error of [
      new Error('boom'),
      new CodedError('NOT_FOUND'),
      new CodedError('PRECONDITION_FAILED'),
      new CodedError('DATA_ERROR'),
      new CodedError('toString'),
      Object.assign(new Error('x'), { code: 404 }),
    ]) {
      expect(statusOfError(error)).toBeUndefined();
    }
  });
});

describe('handleErrors', () => {
  const logged: Record<string, unknown>[] = [];
  const logger = { error: (fields: Record<string, unknown>) => void logged.push(fields), info: () => undefined };

  function appWith(opts: { what?: string; bareBody?: (path: string) => boolean } = {}) {
    const app = new Hono<FunctionEnv>();
    app.use(...requestContext(logger));
    handleErrors(app, { logger, ...opts });
    app.get('/http', () => {
      throw new HttpError(400, 'bad request', [{ path: 'text', message: 'must be a string' }]);
    });
    app.get('/conflict', () => {
      throw new CodedError('ALIAS_CONFLICT', 'the alias moved');
    });
    app.get('/label', () => {
      throw new CodedError('UNKNOWN_LABEL', 'unknown label', [{ path: 'items.0.label', message: 'unknown label "x"' }]);
    });
    app.get('/odd-details', () => {
      throw new CodedError('UNKNOWN_LABEL', 'unknown label', 'not a list');
    });
    app.get('/bug', () => {
      throw new TypeError('cannot read x of undefined');
    });
    app.get('/store-down', () => {
      throw new Error('S3 get of s3://prod-models/mlops/models/sentiment/aliases/champion.json failed: ECONNREFUSED');
    });
    app.get('/busy', () => {
      throw Object.assign(new CodedError('OVERLOADED', 'overloaded: retry later'), { retryAfterSeconds: 2.2 });
    });
    app.get('/v2/bug', () => {
      throw new CodedError('NO_MODEL', 'no model loaded yet');
    });
    return app;
  }
  const get = async (app: Hono<FunctionEnv>, path: string) => {
    const res = await app.request(path, { headers: { 'x-request-id': 'req-1' } });
    return { status: res.status, body: (await res.json()) as unknown };
  };

  it('answers { error, request_id, details? } with the mapped status', async () => {
    const app = appWith();
    expect(await get(app, '/http')).toEqual({
      status: 400,
      body: { error: 'bad request', request_id: 'req-1', details: [{ path: 'text', message: 'must be a string' }] },
    });
    expect(await get(app, '/conflict')).toEqual({ status: 409, body: { error: 'the alias moved', request_id: 'req-1' } });
    expect(await get(app, '/label')).toEqual({
      status: 400,
      body: { error: 'unknown label', request_id: 'req-1', details: [{ path: 'items.0.label', message: 'unknown label "x"' }] },
    });
    expect(await get(app, '/odd-details')).toEqual({ status: 400, body: { error: 'unknown label', request_id: 'req-1' } });
    expect(await get(app, '/nowhere')).toEqual({ status: 404, body: { error: 'no route GET /nowhere', request_id: 'req-1' } });
  });

  it('logs anything else and answers 500, naming the failed work only when told to', async () => {
    logged.length = 0;
    expect(await get(appWith(), '/bug')).toEqual({ status: 500, body: { error: 'internal error', request_id: 'req-1' } });
    expect(await get(appWith({ what: 'promote' }), '/bug')).toEqual({
      status: 500,
      body: { error: 'promote failed: internal error', request_id: 'req-1' },
    });
    expect(logged).toEqual([
      expect.objectContaining({ request_id: 'req-1', err: expect.any(TypeError) }),
      expect.objectContaining({ request_id: 'req-1' }),
    ]);
    expect(await get(appWith(), '/conflict')).toMatchObject({ status: 409 });
    expect(logged).toHaveLength(2); // a mapped error is the caller's, not logged
  });

  it('never puts a store key, bucket or path in a 500: they go to the log with the request id', async () => {
    logged.length = 0;
    const res = await appWith({ what: 'evaluation' }).request('/store-down', { headers: { 'x-request-id': 'req-9' } });
    const text = await res.text();
    expect(res.status).toBe(500);
    expect(JSON.parse(text)).toEqual({ error: 'evaluation failed: internal error', request_id: 'req-9' });
    expect(text).not.toMatch(/prod-models|s3:|aliases|ECONNREFUSED/);
    expect(logged).toEqual([
      expect.objectContaining({
        request_id: 'req-9',
        err: expect.objectContaining({ message: expect.stringContaining('s3://prod-models') }),
      }),
    ]);
  });

  it('says when to retry a busy function: Retry-After in whole seconds, rounded up', async () => {
    const res = await appWith().request('/busy', { headers: { 'x-request-id': 'req-1' } });
    expect([res.status, res.headers.get('retry-after')]).toEqual([503, '3']);
    expect(await res.json()).toEqual({ error: 'overloaded: retry later', request_id: 'req-1' });
    expect((await appWith().request('/conflict')).headers.get('retry-after')).toBeNull();
  });

  it('answers a bare { error } where the protocol fixes the body', async () => {
    const app = appWith({ bareBody: (path) => path.startsWith('/v2/') });
    expect(await get(app, '/v2/bug')).toEqual({ status: 503, body: { error: 'no model loaded yet' } });
    expect(await get(app, '/v2/nowhere')).toEqual({ status: 404, body: { error: 'no route GET /v2/nowhere' } });
    expect(await get(app, '/conflict')).toEqual({ status: 409, body: { error: 'the alias moved', request_id: 'req-1' } });
  });
});
