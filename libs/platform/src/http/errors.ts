import type { Context, Hono } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { z } from 'zod';
import { HttpError, type FunctionEnv } from './http.ts';

/**
 * The one place a domain error becomes an HTTP status, by the `code` the error carries (the libs'
 * and apps' errors each have one; domain code never names a status). An error whose code is not
 * here is a fault of the function: 500.
 *
 * Left out on purpose: storage's NOT_FOUND and PRECONDITION_FAILED, and data's DATA_ERROR. They reach
 * a response only from a function's own store or configured files (the registry handles the races it
 * expects), so a 4xx would blame the caller for the function's fault.
 */
export const STATUS_BY_ERROR_CODE = {
  // The request names something that is not there.
  UNKNOWN_VERSION: 404, // @mlops/registry
  UNKNOWN_ALIAS: 404, // @mlops/registry
  UNKNOWN_PREDICTION: 404, // predict's feedback: no instance made that prediction
  // The state forbids it now: re-read and decide again, or wait for it to change.
  ALIAS_CONFLICT: 409, // @mlops/registry: the alias moved meanwhile
  NO_CHAMPION: 409, // @mlops/registry
  NOT_FINE_TUNABLE: 409, // @mlops/registry: retraining a version imported from ONNX (no torch weights)
  ALREADY_CHAMPION: 409, // promote
  CANARY_RUNNING: 409, // promote
  NO_EARLIER_CHAMPION: 409, // promote
  // The request's data is wrong.
  UNKNOWN_LABEL: 400, // predict's feedback
  // Not ready yet, or busy: event senders (Eventarc, S3 notifications) and clients retry a 503.
  NO_MODEL: 503, // batch-score
  OVERLOADED: 503, // @mlops/inference: predict's queue is at its bound (with Retry-After)
} as const satisfies Record<string, ContentfulStatusCode>;

export type DomainErrorCode = keyof typeof STATUS_BY_ERROR_CODE;

/** One problem of a request, e.g. `{ path: 'items.2.label', message: 'unknown label "x"' }`. */
export interface ErrorDetail {
  path: string;
  message: string;
}

const errorDetailsSchema = z.array(z.object({ path: z.string(), message: z.string() }));

function isDomainErrorCode(code: unknown): code is DomainErrorCode {
  return typeof code === 'string' && Object.hasOwn(STATUS_BY_ERROR_CODE, code);
}

/** The status an error answers with: an HttpError's own, a known domain code's from the table; undefined for anything else (a 500). */
export function statusOfError(error: Error): ContentfulStatusCode | undefined {
  if (error instanceof HttpError) return error.status;
  const code = 'code' in error ? error.code : undefined;
  return isDomainErrorCode(code) ? STATUS_BY_ERROR_CODE[code] : undefined;
}

/** The per-item problems an error carries (HttpError's, or a domain error's `details` when well-formed). */
function detailsOf(error: Error): ErrorDetail[] | undefined {
  if (error instanceof HttpError) return error.details;
  const parsed = errorDetailsSchema.safeParse('details' in error ? error.details : undefined);
  return parsed.success ? parsed.data : undefined;
}

/** The seconds after which a busy function asks to be called again, when the error carries them. */
function retryAfterOf(error: Error): number | undefined {
  const seconds = 'retryAfterSeconds' in error ? error.retryAfterSeconds : undefined;
  return typeof seconds === 'number' && seconds > 0 ? Math.ceil(seconds) : undefined;
}

/** What the error handler needs of a logger (pino's shape). */
export interface ErrorLogger {
  error(fields: Record<string, unknown>, message: string): void;
}

export interface ErrorHandlingOptions {
  logger: ErrorLogger;
  /**
   * The work named in a 500: "promote" answers "promote failed: internal error". A 500's own message
   * is only logged, with the request id the answer carries: it can name store keys, buckets and paths.
   */
  what?: string;
  /** Requests whose protocol fixes the error body to `{ error }` alone (predict's Open Inference Protocol routes). */
  bareBody?: (path: string) => boolean;
}

/**
 * Installs the error and not-found handlers every function shares. Each answers
 * `{ error, request_id, details? }`: an HttpError with its status, a known domain error with the
 * status of its code (STATUS_BY_ERROR_CODE) and its `retryAfterSeconds` as Retry-After, anything
 * else logged and answered 500.
 */
export function handleErrors(app: Hono<FunctionEnv>, opts: ErrorHandlingOptions): void {
  const answer = (c: Context<FunctionEnv>, status: ContentfulStatusCode, error: string, details?: ErrorDetail[]) =>
    c.json(opts.bareBody?.(c.req.path) ? { error } : { error, request_id: c.get('requestId'), ...(details && { details }) }, status);

  app.onError((error, c) => {
    const status = statusOfError(error);
    if (status !== undefined) {
      const retryAfter = retryAfterOf(error);
      if (retryAfter !== undefined) c.header('Retry-After', String(retryAfter));
      return answer(c, status, error.message, detailsOf(error));
    }
    opts.logger.error({ err: error, request_id: c.get('requestId') }, 'unhandled error');
    return answer(c, 500, opts.what === undefined ? 'internal error' : `${opts.what} failed: internal error`);
  });
  app.notFound((c) => answer(c, 404, `no route ${c.req.method} ${c.req.path}`));
}
