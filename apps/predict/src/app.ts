import { randomUUID } from 'node:crypto';
import { textHash } from '@mlops/data';
import { InferenceError, type ModelSource, type Prediction, type ServingModel } from '@mlops/inference';
import {
  callerName,
  handleErrors,
  HttpError,
  jsonBodyLimit,
  parseOr400,
  readJsonBody,
  requestContext,
  requireCaller,
  type CallerPolicy,
  type FunctionEnv,
} from '@mlops/platform';
import { Hono, type Context, type MiddlewareHandler } from 'hono';
import type { Logger } from 'pino';
import { z } from 'zod';
import { acceptFeedback, feedbackBodySchema, type FeedbackSink } from './feedback.ts';
import { RecentPredictions } from './recent-predictions.ts';

export interface PredictLimits {
  maxTexts: number;
  maxTextBytes: number;
  maxBodyBytes: number;
}

/** The champion, and during a canary a challenger for a sticky share of request keys. */
export interface ModelRouter extends ModelSource {
  pick?(key: string): ServingModel | undefined;
}

export interface PredictAppOptions {
  models: ModelRouter;
  modelName: string;
  limits: PredictLimits;
  logger: Logger;
  /** Called after each successful prediction, off the response path (e.g. the prediction log). */
  onPredictions?: (record: { ids: string[]; requestId: string; version: string; texts: string[]; predictions: Prediction[] }) => void;
  /** Where POST /v1/feedback writes labels; without it the route answers 404. */
  feedback?: FeedbackSink;
  /** Most predictions remembered per instance for joining feedback without a store read (100,000). */
  recentCapacity?: number;
  /**
   * Budget of those remembered predictions, texts included (estimated bytes; 64 MiB): the oldest are
   * dropped first. The text is kept even with PREDICT_LOG_TEXT off: feedback by id copies it, and
   * only feedback with text is trained on or held out.
   */
  recentMaxBytes?: number;
  /** Who may send feedback (and predict, with `requireAuthForPredict`); unset or empty: anyone. */
  caller?: CallerPolicy;
  /** Guard /v1/predict and /v2 infer with `caller` too; otherwise predictions are public. */
  requireAuthForPredict?: boolean;
  /**
   * Awaited after each request, before its response goes out: hosts that freeze an instance between
   * requests (Lambda, Cloud Functions) flush the prediction log here, so no record waits for a timer that may never fire.
   */
  beforeResponse?: () => Promise<void>;
}

/**
 * The predict function: a v1 JSON API and the Open Inference Protocol (KServe v2 REST), two thin
 * translators over the same `model.predict(texts)`.
 */
export function createPredictApp(opts: PredictAppOptions): Hono<FunctionEnv> {
  const { models, modelName, limits, logger } = opts;
  const text = z
    .string({ error: 'must be a string' })
    .refine((t) => t.trim() !== '', 'must not be empty')
    .refine((t) => Buffer.byteLength(t) <= limits.maxTextBytes, `must be at most ${limits.maxTextBytes} bytes`);
  const texts = z
    .array(text, { error: 'must be an array of strings' })
    .min(1, 'must hold at least one text')
    .max(limits.maxTexts, `must hold at most ${limits.maxTexts} texts`);
  const v1Body = z
    .strictObject({ text: text.optional(), texts: texts.optional() })
    .refine((b) => (b.text === undefined) !== (b.texts === undefined), 'give exactly one of "text" or "texts"');
  const v2Body = z.object({
    id: z.string().optional(),
    inputs: z
      .array(
        z.object({
          name: z.string(),
          shape: z.array(z.number().int().nonnegative()),
          datatype: z.literal('BYTES', { error: 'datatype must be BYTES' }),
          // The protocol allows nested row-major arrays as well as a flat one.
          data: z
            .array(z.union([text, z.array(text)]))
            .transform((d) => d.flat())
            .pipe(texts),
        }),
      )
      .length(1, 'expects exactly one input tensor (the texts)'),
    outputs: z.array(z.object({ name: z.enum(['label', 'probabilities']) })).optional(),
  });

  const app = new Hono<FunctionEnv>();
  app.use(...requestContext(logger));

  // The Open Inference Protocol's error body is { error } alone.
  handleErrors(app, { logger, bareBody: (path) => path.startsWith('/v2/') });
  const beforeResponse = opts.beforeResponse;
  if (beforeResponse) {
    app.use(async (_c, next) => {
      await next();
      await beforeResponse();
    });
  }

  /** Content type, JSON syntax, then the schema; the size cap (jsonBodyLimit) runs before any of it. */
  const readJson = async <T>(c: Context<FunctionEnv>, schema: z.ZodType<T>): Promise<T> => {
    const type = c.req.header('content-type') ?? '';
    if (!/^application\/json\b/i.test(type)) throw new HttpError(415, `content-type must be application/json (got "${type || 'none'}")`);
    return parseOr400(schema, await readJsonBody(c), 'request');
  };
  const limit = jsonBodyLimit(limits.maxBodyBytes);
  const auth = requireCaller(opts.caller ?? {});
  const predictAuth: MiddlewareHandler<FunctionEnv> = opts.requireAuthForPredict ? auth : (_c, next) => next();
  const ready = (model: ServingModel | undefined) => {
    if (!model) throw new HttpError(503, 'no model loaded yet');
    return model;
  };
  const readyModel = () => ready(models.current());
  const recent = new RecentPredictions({ maxBytes: opts.recentMaxBytes ?? 64 * 1024 * 1024, maxEntries: opts.recentCapacity ?? 100_000 });
  const run = async (c: Context<FunctionEnv>, input: string[]) => {
    // Sticky canary routing: the client's key, else the text itself, picks the model.
    const key = c.req.header('x-request-key') ?? input[0]!;
    const model = ready(models.pick ? models.pick(key) : models.current());
    const predictions = await model.predict(input).catch((error: unknown) => {
      // The sessions stopped (a worker died): the watcher reloads the model; meanwhile say so.
      if (error instanceof InferenceError && model.failure)
        throw new HttpError(503, 'the model stopped serving and is being reloaded; retry shortly');
      throw error;
    });
    // Ids let feedback name the prediction it labels.
    const ids = predictions.map(() => randomUUID());
    const version = model.metadata.version;
    if (opts.feedback) {
      predictions.forEach((p, i) =>
        recent.remember(ids[i]!, { text_hash: textHash(input[i]!), text: input[i], model_version: version, label: p.label }),
      );
    }
    opts.onPredictions?.({ ids, requestId: c.get('requestId'), version, texts: input, predictions });
    return { model, predictions, ids };
  };

  app.get('/healthz', (c) => c.json({ status: 'ok' }));
  app.get('/readyz', (c) => {
    const model = models.current();
    if (model?.failure) return c.json({ status: 'reloading', model_version: model.metadata.version }, 503);
    return model ? c.json({ status: 'ready', model_version: model.metadata.version }) : c.json({ status: 'loading' }, 503);
  });
  app.get('/v1/model', (c) => {
    const { metadata, labels, maxLength } = readyModel();
    return c.json({
      name: modelName,
      version: metadata.version,
      labels,
      max_length: maxLength,
      created: metadata.created ?? null,
      metrics: metadata.metrics ?? {},
    });
  });
  app.post('/v1/predict', predictAuth, limit, async (c) => {
    const body = await readJson(c, v1Body);
    const input = body.texts ?? [body.text!];
    const { model, predictions, ids } = await run(c, input);
    return c.json({
      request_id: c.get('requestId'),
      model_version: model.metadata.version,
      predictions: predictions.map(({ label, score, probabilities }, i) => ({ id: ids[i], label, score, probabilities })),
    });
  });
  const feedbackBody = feedbackBodySchema(text, 1_000);
  app.post('/v1/feedback', auth, limit, async (c) => {
    if (!opts.feedback) throw new HttpError(404, 'feedback is not enabled on this instance');
    const items = await readJson(c, feedbackBody);
    const { records, duplicates } = await acceptFeedback(items, {
      labels: readyModel().labels,
      recent: (id) => recent.get(id),
      sink: opts.feedback,
      caller: callerName(c.get('caller')),
    });
    return c.json({
      request_id: c.get('requestId'),
      accepted: records.length,
      duplicates,
      feedback_ids: records.map((r) => r.feedback_id),
    });
  });

  // Open Inference Protocol (KServe v2 REST).
  const knownModel = (c: Context<FunctionEnv>) => {
    if (c.req.param('name') !== modelName)
      throw new HttpError(404, `unknown model "${c.req.param('name')}"; this server has "${modelName}"`);
  };
  app.get('/v2/health/live', (c) => c.json({ live: true }));
  app.get('/v2/health/ready', (c) => c.json({ ready: models.current() !== undefined }, models.current() ? 200 : 503));
  app.get('/v2/models/:name', (c) => {
    knownModel(c);
    const model = readyModel();
    return c.json({
      name: modelName,
      versions: [model.metadata.version],
      platform: 'onnxruntime_onnx',
      inputs: [{ name: 'text', datatype: 'BYTES', shape: [-1] }],
      outputs: [
        { name: 'label', datatype: 'BYTES', shape: [-1] },
        { name: 'probabilities', datatype: 'FP32', shape: [-1, model.labels.length] },
      ],
    });
  });
  app.get('/v2/models/:name/ready', (c) => {
    knownModel(c);
    return c.json({ name: modelName, ready: models.current() !== undefined }, models.current() ? 200 : 503);
  });
  app.post('/v2/models/:name/infer', predictAuth, limit, async (c) => {
    knownModel(c);
    const body = await readJson(c, v2Body);
    const [input] = body.inputs;
    const count = input!.shape.reduce((a, b) => a * b, 1);
    if (count !== input!.data.length)
      throw new HttpError(400, `input shape [${input!.shape.join(', ')}] does not match ${input!.data.length} texts`);
    const { model, predictions } = await run(c, input!.data);
    const wanted = new Set((body.outputs ?? [{ name: 'label' }, { name: 'probabilities' }]).map((o) => o.name));
    const outputs = [];
    if (wanted.has('label'))
      outputs.push({ name: 'label', datatype: 'BYTES', shape: [predictions.length], data: predictions.map((p) => p.label) });
    if (wanted.has('probabilities')) {
      outputs.push({
        name: 'probabilities',
        datatype: 'FP32',
        shape: [predictions.length, model.labels.length],
        data: predictions.flatMap((p) => model.labels.map((l) => p.probabilities[l]!)),
      });
    }
    return c.json({ model_name: modelName, model_version: model.metadata.version, ...(body.id ? { id: body.id } : {}), outputs });
  });
  return app;
}
