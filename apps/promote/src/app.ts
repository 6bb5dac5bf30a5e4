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
import { z } from 'zod';
import { considerCandidate, reviewCanary, rollbackChampion, type PromoteDeps } from './promote.ts';

const version = z.string().regex(/^v[1-9][0-9]*$/, 'must be a version like v3');
const candidateBody = z.object({ version, run_id: z.string().optional() });
const rollbackBody = z.object({
  version: version.optional(),
  /** The champion the caller rolls back from: refused (409) when another version is champion now. */
  expected_version: version.optional(),
  reason: z.string().min(1).max(2000).default('manual rollback'),
});

/** promote: POST /v1/candidates (a job registered one), /v1/canary/review (evaluate, each run), /v1/rollback. */
export function createPromoteApp(deps: PromoteDeps & { caller: CallerPolicy }) {
  const app = new Hono<FunctionEnv>();
  app.use(...requestContext(deps.logger));
  handleErrors(app, { logger: deps.logger, what: 'promote' });
  const auth = requireCaller(deps.caller);
  const limit = jsonBodyLimit(64_000);
  // Alias moves are read-decide-write: one decision at a time per instance.
  let queue: Promise<unknown> = Promise.resolve();
  const serial = <T>(work: () => Promise<T>): Promise<T> => {
    const next = queue.catch(() => undefined).then(work);
    queue = next;
    return next;
  };

  app.get('/healthz', (c) => c.json({ status: 'ok' }));
  app.post('/v1/candidates', auth, limit, async (c) => {
    const body = parseOr400(candidateBody, await readJsonBody(c), 'request');
    return c.json(await serial(() => considerCandidate(deps, body.version)));
  });
  app.post('/v1/canary/review', auth, async (c) => c.json(await serial(() => reviewCanary(deps))));
  app.post('/v1/rollback', auth, limit, async (c) => {
    const body = parseOr400(rollbackBody, await readJsonBody(c), 'request');
    return c.json(await serial(() => rollbackChampion(deps, { to: body.version, reason: body.reason, expected: body.expected_version })));
  });
  return app;
}
