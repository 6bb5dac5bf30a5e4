/**
 * AWS Lambda entry (API Gateway v1/v2, Function URL). Module init runs once per instance, so the
 * model is downloaded and warmed here, not in the first request. A frozen instance runs no timer
 * and Lambda sends no SIGTERM without an extension, so the prediction log is flushed before each response.
 */
import { availableParallelism } from 'node:os';
import { createLambdaHandler } from '@mlops/platform';
import { createPredictService } from '../service.ts';

/**
 * A Lambda instance answers one request at a time, so worker sessions would add a thread hop to
 * every request and their start-up to every cold start: by default the session runs on the event
 * loop with every core. PREDICT_SESSIONS / PREDICT_THREADS still override it.
 */
export const lambdaServingDefaults = (env: NodeJS.ProcessEnv): NodeJS.ProcessEnv => ({
  PREDICT_SESSIONS: '0',
  PREDICT_THREADS: String(availableParallelism()),
  ...env,
});

const service = createPredictService(lambdaServingDefaults(process.env), { flushLogPerRequest: true });
await service.start();

export const handler = createLambdaHandler(service.app);
