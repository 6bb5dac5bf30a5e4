import {
  handleErrors,
  HttpError,
  parseOr400,
  requestContext,
  requireCaller,
  scheduledTimeOf,
  type CallerPolicy,
  type FunctionEnv,
} from '@mlops/platform';
import { readEvaluations, type EvaluationRecord } from '@mlops/monitoring';
import type { Once } from '@mlops/storage';
import { Hono } from 'hono';
import type { Logger } from 'pino';
import { z } from 'zod';
import { evaluateOnce, evaluateTickOnce, type EvaluatorDeps } from './evaluation.ts';

/**
 * The evaluate function: Cloud Scheduler, an EventBridge schedule or the local cron POSTs
 * /v1/evaluate. A call by hand is one evaluation; a scheduled one (its tick's time in a header) is
 * one per tick across instances and retries. Runs are serialized within an instance.
 */
export function createEvaluateApp(deps: EvaluatorDeps & { caller?: CallerPolicy; logger: Logger }) {
  const app = new Hono<FunctionEnv>();
  app.use(...requestContext(deps.logger));
  handleErrors(app, { logger: deps.logger, what: 'evaluation' });

  const auth = requireCaller(deps.caller ?? {});
  let running: Promise<unknown> = Promise.resolve();
  app.get('/healthz', (c) => c.json({ status: 'ok' }));
  const tickSchema = z.iso.datetime({ offset: true, error: 'the scheduled time header must be an ISO 8601 time' }).optional();
  app.post('/v1/evaluate', auth, async (c) => {
    const tick = parseOr400(
      tickSchema,
      scheduledTimeOf((name) => c.req.header(name)),
      'request',
    );
    // Two overlapping calls would act twice on the same window: run them one after another.
    const evaluation = (): Promise<Once<EvaluationRecord>> =>
      tick ? evaluateTickOnce(deps, tick) : evaluateOnce(deps).then((value) => ({ outcome: 'decided', value, repeated: false }));
    const run = running.catch(() => undefined).then(evaluation);
    running = run;
    const result = await run;
    if (result.outcome === 'busy')
      throw new HttpError(409, `the evaluation of the tick scheduled at ${tick} is running (since ${result.since})`);
    if (result.repeated) c.header('x-mlops-repeated', 'true');
    return c.json(result.value);
  });
  const query = z.object({ since: z.iso.datetime({ error: 'since must be an ISO 8601 time' }).optional() });
  app.get('/v1/evaluations', auth, async (c) => {
    const { since } = parseOr400(query, c.req.query(), 'query');
    const { records, bad } = await readEvaluations(deps.store, deps.registry.model, since ? new Date(since) : undefined);
    return c.json({ evaluations: records, unreadable: bad });
  });
  return app;
}
