import {
  handleErrors,
  HttpError,
  jsonBodyLimit,
  parseOr400,
  readJsonBody,
  requestContext,
  requireCaller,
  s3EventSchema,
  type CallerPolicy,
  type FunctionEnv,
} from '@mlops/platform';
import { Hono } from 'hono';
import { z } from 'zod';
import { cloudEventHeadersSchema, gcsObjectSchema, handleS3Event, structuredCloudEventSchema } from './events.ts';
import { scoreObject, type BatchContext } from './job.ts';

/** Event bodies are object metadata, never the data itself. */
const MAX_BODY_BYTES = 1_000_000;

/**
 * The batch-score function: storage events in, scored files out. `POST /` takes a GCS
 * object-finalized CloudEvent from Eventarc (binary or structured mode), `POST /s3` an S3 event
 * notification. Each answers once the file is scored (or found already scored), so a delivery that
 * fails is retried by the sender. Both are guarded by `caller` (Eventarc sends an OIDC token).
 */
export function createBatchScoreApp(ctx: BatchContext, caller: CallerPolicy = {}): Hono<FunctionEnv> {
  const { logger } = ctx;
  const app = new Hono<FunctionEnv>();
  app.use(...requestContext(logger));
  // A NoModelError (NO_MODEL) answers 503, which makes Eventarc and S3-to-HTTP senders retry once a model is there.
  handleErrors(app, { logger });
  const limit = jsonBodyLimit(MAX_BODY_BYTES);
  const auth = requireCaller(caller);

  app.get('/healthz', (c) => c.json({ status: 'ok' }));
  app.get('/readyz', (c) => {
    const model = ctx.models.current();
    return model ? c.json({ status: 'ready', model_version: model.metadata.version }) : c.json({ status: 'loading' }, 503);
  });

  app.post('/', auth, limit, async (c) => {
    const type = c.req.header('content-type') ?? '';
    let object: z.infer<typeof gcsObjectSchema>;
    if (/^application\/cloudevents\+json\b/i.test(type)) {
      object = parseOr400(structuredCloudEventSchema, await readJsonBody(c), 'CloudEvent').data;
    } else if (/^application\/json\b/i.test(type)) {
      parseOr400(cloudEventHeadersSchema, c.req.header(), 'CloudEvent headers');
      object = parseOr400(gcsObjectSchema, await readJsonBody(c), 'GCS object data');
    } else {
      throw new HttpError(
        415,
        `content-type must be application/json (binary CloudEvent) or application/cloudevents+json (got "${type || 'none'}")`,
      );
    }
    return c.json(await scoreObject(ctx, { key: object.name, bucket: object.bucket }));
  });

  app.post('/s3', auth, limit, async (c) => {
    const event = parseOr400(s3EventSchema, await readJsonBody(c), 'S3 event notification');
    return c.json({ results: await handleS3Event(ctx, event) });
  });
  return app;
}
