import type { APIGatewayProxyResult, LambdaContext } from 'hono/aws-lambda';
import { z } from 'zod';

// S3 URL-encodes object keys in notifications, with '+' for a space ("my+file%281%29.csv").
// A literal '+' arrives as %2B, so swapping '+' first is safe.
const objectKey = z
  .string()
  .min(1)
  .transform((key, ctx) => {
    try {
      return decodeURIComponent(key.replace(/\+/g, ' '));
    } catch {
      ctx.addIssue({ code: 'custom', message: 'is not a URL-encoded key' });
      return z.NEVER;
    }
  });

export const s3EventRecordSchema = z.object({
  eventSource: z.literal('aws:s3'),
  eventName: z.string(), // e.g. "ObjectCreated:Put" (no "s3:" prefix, unlike the configuration)
  eventTime: z.string(),
  awsRegion: z.string(),
  s3: z.object({
    bucket: z.object({ name: z.string(), arn: z.string() }),
    object: z.object({
      key: objectKey,
      // size and eTag are absent on ObjectRemoved:* events.
      size: z.number().int().nonnegative().optional(),
      // Unquoted, unlike the ETag header of GetObject/HeadObject.
      eTag: z.string().optional(),
      versionId: z.string().optional(),
      // Orders events for the same key; not unique per object version.
      sequencer: z.string(),
    }),
  }),
});

/** An S3 event notification as Lambda receives it (classic `Records[]` format). */
export const s3EventSchema = z.object({ Records: z.array(s3EventRecordSchema).min(1) });

/** An S3 event notification with object keys already decoded. */
export type S3Event = z.output<typeof s3EventSchema>;

export interface LambdaHandlerOptions {
  /** Receives S3 event notifications; without it they are rejected with an error. */
  onS3Event?: (event: S3Event) => Promise<void>;
  /** An EventBridge schedule ("Scheduled Event") becomes a POST of `body` (default `{}`) to `path` on the app. */
  onSchedule?: { path: string; body?: unknown; headers?: Record<string, string> };
}

/** HTTP events answer with an API Gateway/Function URL result; S3 notifications with nothing. */
export type LambdaHandler = (event: unknown, context?: LambdaContext) => Promise<APIGatewayProxyResult | undefined>;
