import { Hono } from 'hono';
import { serve } from '@hono/node-server';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { requireApiKey } from './auth.ts';
import { callFunction, FunctionCallError } from './client.ts';
import { HttpError } from './http.ts';

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
    await expect(callFunction({ url: 'http://127.0.0.1:9', timeoutMs: 2000 }, '/act', {})).rejects.toThrow(/POST http:\/\/127\.0\.0\.1:9\/act failed/);
  });
});
