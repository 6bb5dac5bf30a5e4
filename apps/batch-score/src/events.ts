import { z } from 'zod';
import { scoreObject, type BatchContext, type ScoreOutcome } from './job.ts';

export const GCS_FINALIZED = 'google.cloud.storage.object.v1.finalized';
const eventType = z.literal(GCS_FINALIZED, { error: `must be ${GCS_FINALIZED}` });

/** The GCS object resource Eventarc sends as the event data (only the fields we use). */
export const gcsObjectSchema = z.object({
  bucket: z.string().min(1),
  name: z.string().min(1),
  // int64 in the JSON API, so a string; the store's etag is what idempotency compares.
  generation: z.union([z.string(), z.number()]).optional(),
});

/** Binary content mode: the attributes are ce-* headers, the body is the data. */
export const cloudEventHeadersSchema = z.object({
  'ce-specversion': z.literal('1.0', { error: 'must be 1.0 (is this a CloudEvent?)' }),
  'ce-type': eventType,
  'ce-id': z.string().min(1),
  'ce-source': z.string().min(1),
});

/** Structured content mode (application/cloudevents+json): attributes and data in one JSON body. */
export const structuredCloudEventSchema = z.object({
  specversion: z.literal('1.0', { error: 'must be 1.0' }),
  type: eventType,
  id: z.string().min(1),
  source: z.string().min(1),
  data: gcsObjectSchema,
});

// S3 URL-encodes keys in notifications with '+' for a space; a literal '+' arrives as %2B, so '+' goes first.
const s3Key = z.string().min(1).transform((key, ctx) => {
  try {
    return decodeURIComponent(key.replace(/\+/g, ' '));
  } catch {
    ctx.addIssue({ code: 'custom', message: 'is not a URL-encoded key' });
    return z.NEVER;
  }
});

/** An S3 event notification as S3 sends it (to Lambda, SQS or an HTTP endpoint); keys come out decoded. */
export const s3NotificationSchema = z.object({
  Records: z
    .array(
      z.object({
        eventSource: z.literal('aws:s3'),
        eventName: z.string(),
        s3: z.object({
          bucket: z.object({ name: z.string().min(1) }),
          object: z.object({ key: s3Key, eTag: z.string().optional() }),
        }),
      }),
    )
    .min(1),
});

/** Decoded keys: what s3NotificationSchema gives, and what the Lambda adapter of @mlops/platform hands over. */
export interface S3Notification {
  Records: { eventName: string; s3: { bucket: { name: string }; object: { key: string } } }[];
}

/** Scores each created object of an S3 notification in turn; the Lambda adapter and `POST /s3` share it. */
export async function handleS3Event(ctx: BatchContext, event: S3Notification): Promise<ScoreOutcome[]> {
  const outcomes: ScoreOutcome[] = [];
  for (const { eventName, s3 } of event.Records) {
    if (!eventName.startsWith('ObjectCreated:')) {
      ctx.logger.info({ key: s3.object.key, event: eventName }, 'object ignored');
      outcomes.push({ status: 'ignored', reason: `${eventName} is not an ObjectCreated event` });
      continue;
    }
    outcomes.push(await scoreObject(ctx, { key: s3.object.key, bucket: s3.bucket.name }));
  }
  return outcomes;
}
