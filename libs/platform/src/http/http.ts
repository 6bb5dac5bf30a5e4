import type { MiddlewareHandler } from 'hono';
import { requestId } from 'hono/request-id';
import type { ContentfulStatusCode } from 'hono/utils/http-status';

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

/** The Hono env of every function: the request id set by `requestContext`. */
export type FunctionEnv = { Variables: { requestId: string } };

/** What the request log needs of a logger (pino's shape). */
export interface RequestLogger {
  info(fields: Record<string, unknown>, message: string): void;
}

/** Request id (from X-Request-Id or new) and one structured log line per request with its latency. */
export function requestContext(logger: RequestLogger): MiddlewareHandler<FunctionEnv>[] {
  return [
    requestId(),
    async (c, next) => {
      const start = performance.now();
      await next();
      logger.info(
        { request_id: c.get('requestId'), method: c.req.method, path: c.req.path, status: c.res.status, ms: +(performance.now() - start).toFixed(2) },
        'request',
      );
    },
  ];
}
