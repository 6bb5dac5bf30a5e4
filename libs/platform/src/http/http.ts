import type { Context, MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { requestId } from 'hono/request-id';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { z } from 'zod';

/** A client error: the status and message a function answers with. */
export class HttpError extends Error {
  constructor(
    readonly status: ContentfulStatusCode,
    message: string,
    readonly details?: { path: string; message: string }[],
  ) {
    super(message);
  }
}

/**
 * The time of the schedule tick a request runs for, as the Lambda host and the local cron send it
 * (Cloud Scheduler sends `X-CloudScheduler-ScheduleTime`); the same on a retry of that tick.
 */
export const SCHEDULED_TIME_HEADER = 'x-mlops-scheduled-time';

/** The schedule tick a request runs for, from whichever scheduler sent it; undefined for a call by hand. */
export function scheduledTimeOf(header: (name: string) => string | undefined): string | undefined {
  return header('x-cloudscheduler-scheduletime') ?? header(SCHEDULED_TIME_HEADER);
}

/** Who a guarded request was let in as (set by `requireCaller`). */
export type Caller = { via: 'api-key' } | { via: 'oidc'; sub: string; email?: string; issuer: string };

/** How a caller is named in request logs and feedback records. */
export function callerName(caller: Caller | undefined): string {
  if (caller === undefined) return 'anonymous'; // an open route let the request in unchecked
  return caller.via === 'api-key' ? 'api-key' : `oidc:${caller.email ?? caller.sub}`;
}

/** The Hono env of every function: the request id set by `requestContext`, the caller set by `requireCaller` on guarded routes. */
export type FunctionEnv = { Variables: { requestId: string; caller?: Caller } };

/** What the request log needs of a logger (pino's shape). */
export interface RequestLogger {
  info(fields: Record<string, unknown>, message: string): void;
}

/** Request id (from X-Request-Id or new) and one structured log line per request with its latency and, on guarded routes, its caller. */
export function requestContext(logger: RequestLogger): MiddlewareHandler<FunctionEnv>[] {
  return [
    requestId(),
    async (c, next) => {
      const start = performance.now();
      await next();
      const caller = c.get('caller');
      logger.info(
        {
          request_id: c.get('requestId'),
          method: c.req.method,
          path: c.req.path,
          status: c.res.status,
          ms: +(performance.now() - start).toFixed(2),
          ...(caller && { caller: callerName(caller) }),
        },
        'request',
      );
    },
  ];
}

/** Caps the body before anything reads it: 413 with a JSON error past `maxBytes`. */
export function jsonBodyLimit(maxBytes: number): MiddlewareHandler {
  const tooLarge = () => {
    throw new HttpError(413, `request body larger than ${maxBytes} bytes`);
  };
  const counted = bodyLimit({ maxSize: maxBytes, onError: tooLarge });
  return async (c, next) => {
    // A declared length is enforced by the HTTP parser, so it is checked without touching the body:
    // Hono's bodyLimit reads `request.body`, which makes the Node adapter build a web stream for every
    // request instead of reading the socket directly (a large share of the HTTP cost: docs/benchmarks.md).
    const length = c.req.header('content-length');
    if (length === undefined || !/^\d+$/.test(length) || c.req.header('transfer-encoding') !== undefined) return counted(c, next);
    if (Number(length) > maxBytes) return tooLarge();
    await next();
  };
}

/** The body as JSON; 400 when it is not. */
export async function readJsonBody(c: Context): Promise<unknown> {
  try {
    return JSON.parse(await c.req.text());
  } catch {
    throw new HttpError(400, 'malformed JSON body');
  }
}

/** Validates a parsed value; 400 naming every problem (path and message) when it does not fit. */
export function parseOr400<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const details = parsed.error.issues.map((i) => ({ path: i.path.join('.') || '(body)', message: i.message }));
  throw new HttpError(400, `invalid ${what}: ${details.map((d) => `${d.path} ${d.message}`).join('; ')}`, details);
}
