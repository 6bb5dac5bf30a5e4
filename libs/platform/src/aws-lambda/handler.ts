import type { Env, Hono, Schema } from 'hono';
import { handle, type LambdaEvent } from 'hono/aws-lambda';
import { SCHEDULED_TIME_HEADER } from '../http/http.ts';
import { s3EventSchema, type LambdaHandler, type LambdaHandlerOptions } from './types.ts';

/**
 * One Lambda entry for API Gateway REST (v1), HTTP API (v2) and Function URL requests, which go
 * to `app`, and S3 event notifications, which go to `onS3Event`.
 */
export function createLambdaHandler<E extends Env, S extends Schema, B extends string>(
  app: Hono<E, S, B>,
  options: LambdaHandlerOptions = {},
): LambdaHandler {
  const handleHttp = handle(app);
  return async (event, context) => {
    if (isS3Notification(event)) {
      if (!options.onS3Event) {
        throw new Error('received an S3 event notification, but this function has no onS3Event handler');
      }
      await options.onS3Event(s3EventSchema.parse(event));
      return undefined;
    }
    if (isScheduledEvent(event)) {
      if (!options.onSchedule) throw new Error('received an EventBridge scheduled event, but this function has no onSchedule route');
      const res = await app.request(options.onSchedule.path, {
        method: 'POST',
        // The tick it was scheduled for: the same on EventBridge's retries, so a route can act once per tick.
        headers: { 'content-type': 'application/json', ...scheduledTime(event), ...options.onSchedule.headers },
        body: JSON.stringify(options.onSchedule.body ?? {}),
      });
      // A failed run fails the invocation, so EventBridge's retry policy and the error metrics see it.
      if (!res.ok) throw new Error(`scheduled ${options.onSchedule.path} answered ${res.status}: ${(await res.text()).slice(0, 500)}`);
      return undefined;
    }
    if (typeof event === 'object' && event !== null && 'requestContext' in event) {
      // hono tells v1, v2 (Function URLs use v2) and ALB apart by their shape.
      return handleHttp(event as LambdaEvent, context);
    }
    throw new Error('unsupported Lambda event: expected API Gateway v1/v2, Function URL, S3 notification or EventBridge schedule');
  };
}

function scheduledTime(event: unknown): Record<string, string> {
  return typeof event === 'object' && event !== null && 'time' in event && typeof event.time === 'string'
    ? { [SCHEDULED_TIME_HEADER]: event.time }
    : {};
}

function isScheduledEvent(event: unknown): boolean {
  return (
    typeof event === 'object' && event !== null && 'detail-type' in event && event['detail-type'] === 'Scheduled Event' && 'source' in event
  );
}

function isS3Notification(event: unknown): boolean {
  if (typeof event !== 'object' || event === null || !('Records' in event) || !Array.isArray(event.Records)) {
    return false;
  }
  const first: unknown = event.Records[0];
  return typeof first === 'object' && first !== null && 'eventSource' in first && first.eventSource === 'aws:s3';
}
