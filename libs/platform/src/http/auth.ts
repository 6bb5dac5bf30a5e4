import { timingSafeEqual } from 'node:crypto';
import type { MiddlewareHandler } from 'hono';
import { HttpError } from './http.ts';

/**
 * The embedded default's guard for functions that change state: `Authorization: Bearer <key>` or
 * `X-Api-Key: <key>`. Without a configured key the function is open (a laptop); say so at startup.
 */
export function requireApiKey(key: string | undefined): MiddlewareHandler {
  const expected = key === undefined || key === '' ? undefined : Buffer.from(key);
  return async (c, next) => {
    if (expected) {
      const given = c.req.header('x-api-key') ?? /^Bearer (.+)$/i.exec(c.req.header('authorization') ?? '')?.[1];
      const ok = given !== undefined && Buffer.byteLength(given) === expected.length && timingSafeEqual(Buffer.from(given), expected);
      if (!ok) throw new HttpError(401, given === undefined ? 'missing API key (Authorization: Bearer … or X-Api-Key)' : 'wrong API key');
    }
    await next();
  };
}
