import { HttpError, requestContext, s3EventSchema, type FunctionEnv } from '@mlops/platform';
import { Hono, type Context } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { z } from 'zod';
import { cloudEventHeadersSchema, gcsObjectSchema, handleS3Event, structuredCloudEventSchema } from './events.ts';
import { NoModelError, scoreObject, type BatchContext } from './job.ts';

/** Event bodies are object metadata, never the data itself. */
const MAX_BODY_BYTES = 1_000_000;

function parse<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((i) => `${i.path.join('.') || '(body)'} ${i.message}`).join('; ');
  throw new HttpError(400, `invalid ${what}: ${problems}`);
}

async function readJson(c: Context<FunctionEnv>): Promise<unknown> {
  try {
    return JSON.parse(await c.req.text());
  } catch {
    throw new HttpError(400, 'malformed JSON body');
  }
}

/**
 * The batch-score function: storage events in, scored files out. `POST /` takes a GCS
 * object-finalized CloudEvent from Eventarc (binary or structured mode), `POST /s3` an S3 event
 * notification. Each answers once the file is scored (or found already scored), so a delivery that
 * fails is retried by the sender.
 */
export function createBatchScoreApp(ctx: BatchContext): Hono<FunctionEnv> {
  const { logger } = ctx;
  const app = new Hono<FunctionEnv>();
  app.use(...requestContext(logger));
  app.onError((error, c) => {
    if (error instanceof HttpError) return c.json({ error: error.message }, error.status);
    // 503 makes Eventarc and S3-to-HTTP senders retry once a model is there.
    if (error instanceof NoModelError) return c.json({ error: error.message }, 503);
    logger.error({ err: error, request_id: c.get('requestId') }, 'unhandled error');
    return c.json({ error: 'internal error' }, 500);
  });
  app.notFound((c) => c.json({ error: `no route ${c.req.method} ${c.req.path}` }, 404));
  const limit = bodyLimit({
    maxSize: MAX_BODY_BYTES,
    onError: () => {
      throw new HttpError(413, `request body larger than ${MAX_BODY_BYTES} bytes`);
    },
  });

  app.get('/healthz', (c) => c.json({ status: 'ok' }));
  app.get('/readyz', (c) => {
    const model = ctx.models.current();
    return model ? c.json({ status: 'ready', model_version: model.metadata.version }) : c.json({ status: 'loading' }, 503);
  });

  app.post('/', limit, async (c) => {
    const type = c.req.header('content-type') ?? '';
    let object: z.infer<typeof gcsObjectSchema>;
    if (/^application\/cloudevents\+json\b/i.test(type)) {
      object = parse(structuredCloudEventSchema, await readJson(c), 'CloudEvent').data;
    } else if (/^application\/json\b/i.test(type)) {
      parse(cloudEventHeadersSchema, c.req.header(), 'CloudEvent headers');
      object = parse(gcsObjectSchema, await readJson(c), 'GCS object data');
    } else {
      throw new HttpError(415, `content-type must be application/json (binary CloudEvent) or application/cloudevents+json (got "${type || 'none'}")`);
    }
    return c.json(await scoreObject(ctx, { key: object.name, bucket: object.bucket }));
  });

  app.post('/s3', limit, async (c) => {
    const event = parse(s3EventSchema, await readJson(c), 'S3 event notification');
    return c.json({ results: await handleS3Event(ctx, event) });
  });
  return app;
}
