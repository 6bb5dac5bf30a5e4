import * as crypto from 'node:crypto';
import { Hono } from 'hono';
import { describe, expect, it, vi } from 'vitest';
import { requireApiKey } from './auth.ts';
import { HttpError } from './http.ts';

// The comparison is watched: whatever the length of the key sent, it must be made, on equal-length inputs.
vi.mock('node:crypto', async (importOriginal) => {
  const actual = await importOriginal<typeof import('node:crypto')>();
  return { ...actual, timingSafeEqual: vi.fn(actual.timingSafeEqual) };
});

describe('the API key comparison', () => {
  it('compares in constant time whatever the length sent, so the time does not give the key length away', async () => {
    const app = new Hono();
    app.onError((e, c) => (e instanceof HttpError ? c.json({ error: e.message }, e.status) : c.json({ error: 'internal' }, 500)));
    app.post('/act', requireApiKey('s3cret-key'), (c) => c.json({ ok: true }));
    const compare = vi.mocked(crypto.timingSafeEqual);
    for (const sent of ['x', 's3cret-key-but-longer', 's3cret-kez', 's3cret-key']) {
      compare.mockClear();
      const res = await app.request('/act', { method: 'POST', headers: { 'x-api-key': sent } });
      expect(res.status, sent).toBe(sent === 's3cret-key' ? 200 : 401);
      expect(compare, sent).toHaveBeenCalledTimes(1);
      const [a, b] = compare.mock.calls[0]! as [Buffer, Buffer];
      expect([a.length, b.length]).toEqual([32, 32]);
    }
  });
});
