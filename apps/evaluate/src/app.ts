import { handleErrors, parseOr400, requestContext, requireCaller, type CallerPolicy, type FunctionEnv } from '@mlops/platform';
import { readEvaluations } from '@mlops/monitoring';
import { Hono } from 'hono';
import type { Logger } from 'pino';
import { z } from 'zod';
import { evaluateOnce, type EvaluatorDeps } from './evaluation.ts';

/**
 * The evaluate function: Cloud Scheduler, an EventBridge schedule or the local cron POSTs
 * /v1/evaluate; each call is one evaluation. Runs are serialized within an instance.
 */
export function createEvaluateApp(deps: EvaluatorDeps & { caller?: CallerPolicy; logger: Logger }) {
  const app = new Hono<FunctionEnv>();
  app.use(...requestContext(deps.logger));
  handleErrors(app, { logger: deps.logger, what: 'evaluation' });

  const auth = requireCaller(deps.caller ?? {});
  let running: Promise<unknown> = Promise.resolve();
  app.get('/healthz', (c) => c.json({ status: 'ok' }));
  app.post('/v1/evaluate', auth, async (c) => {
    // Two overlapping schedule calls would act twice on the same window: run them one after another.
    const run = running.catch(() => undefined).then(() => evaluateOnce(deps));
    running = run;
    return c.json(await run);
  });
  const query = z.object({ since: z.iso.datetime({ error: 'since must be an ISO 8601 time' }).optional() });
  app.get('/v1/evaluations', auth, async (c) => {
    const { since } = parseOr400(query, c.req.query(), 'query');
    const { records, bad } = await readEvaluations(deps.store, deps.registry.model, since ? new Date(since) : undefined);
    return c.json({ evaluations: records, unreadable: bad });
  });
  return app;
}
