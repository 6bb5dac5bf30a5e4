import { createAlerter } from '@mlops/alerts';
import { loadSettings } from '@mlops/config';
import { callAuthFrom, callFunction, guardedCallerPolicy } from '@mlops/platform';
import { createRegistry } from '@mlops/registry';
import { openStore } from '@mlops/storage';
import pino from 'pino';
import { createEvaluateApp } from './app.ts';
import { loadEvaluateSettings } from './settings.ts';

/** Wires evaluate from the environment; each host wraps the same `app`. */
export function createEvaluateService(env: NodeJS.ProcessEnv = process.env) {
  const settings = loadSettings(env);
  const evaluate = loadEvaluateSettings(env);
  const logger = pino({ level: evaluate.LOG_LEVEL, base: { service: 'evaluate' } });
  const store = openStore(settings.MLOPS_STORE, env);
  const key = evaluate.MLOPS_API_KEY;
  const retrainUrl = evaluate.RETRAIN_TRIGGER_URL;
  const promoteUrl = evaluate.PROMOTE_URL;
  const caller = guardedCallerPolicy(evaluate, { store: store.uri, routes: ['POST /v1/evaluate', 'GET /v1/evaluations'], logger });
  const calls = callAuthFrom(evaluate, [retrainUrl, promoteUrl]);
  if (retrainUrl || promoteUrl) logger.info(`calls to other functions authenticate with: ${calls.mode}`);
  const app = createEvaluateApp({
    store,
    registry: createRegistry(store, settings.MLOPS_MODEL),
    windowMinutes: evaluate.EVALUATE_WINDOW_MINUTES,
    policy: { accuracyThreshold: evaluate.EVALUATE_ACCURACY_THRESHOLD, drift: { alpha: evaluate.EVALUATE_DRIFT_ALPHA } },
    feedbackPrefix: evaluate.EVALUATE_FEEDBACK_PREFIX,
    feedbackFields: { textField: evaluate.EVALUATE_FEEDBACK_TEXT_FIELD, labelField: evaluate.EVALUATE_FEEDBACK_LABEL_FIELD },
    alerter: createAlerter(env, logger),
    ...(retrainUrl && { retrain: (request) => callFunction(calls.target(retrainUrl), 'v1/trigger', request) }),
    ...(promoteUrl && { reviewCanary: () => callFunction(calls.target(promoteUrl), 'v1/canary/review', {}) }),
    caller,
    logger,
  });
  return { app, logger, apiKey: key };
}
