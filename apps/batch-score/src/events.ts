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

/** The part of an S3 notification scoring needs, keys decoded (as @mlops/platform's s3EventSchema gives them). */
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
