import {
  handleErrors,
  jsonBodyLimit,
  parseOr400,
  readJsonBody,
  requestContext,
  requireCaller,
  type CallerPolicy,
  type FunctionEnv,
} from '@mlops/platform';
import { Hono } from 'hono';
import type { Logger } from 'pino';
import { z } from 'zod';
import type { RetrainTrigger } from './trigger.ts';

const triggerBody = z.object({
  reason: z.string({ error: 'reason must be a string' }).min(1).max(2000),
  /** evaluate's finding; a scheduler sends kind "schedule", a person "manual". */
  kind: z.enum(['performance', 'schedule', 'manual']).default('performance'),
  status: z.string().optional(),
  version: z.string().optional(),
});

/** retrain-trigger: POST /v1/trigger (evaluate or a scheduler), POST /v1/runs/sync, GET /v1/runs. */
export function createRetrainApp(opts: { trigger: RetrainTrigger; caller: CallerPolicy; logger: Logger }) {
  const app = new Hono<FunctionEnv>();
  app.use(...requestContext(opts.logger));
  handleErrors(app, { logger: opts.logger, what: 'retrain-trigger' });
  const auth = requireCaller(opts.caller);

  app.get('/healthz', (c) => c.json({ status: 'ok' }));
  app.post('/v1/trigger', auth, jsonBodyLimit(64_000), async (c) => {
    const body = parseOr400(triggerBody, await readJsonBody(c), 'request');
    const result = await opts.trigger.trigger({ kind: body.kind, reason: body.reason });
    return c.json(result, result.started ? 202 : 200);
  });
  app.post('/v1/runs/sync', auth, async (c) => c.json({ run: (await opts.trigger.sync()) ?? null }));
  app.get('/v1/runs', auth, async (c) => c.json({ runs: await opts.trigger.list() }));
  return app;
}
