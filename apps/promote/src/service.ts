import { createAlerter } from '@mlops/alerts';
import { defaultData, loadSettings } from '@mlops/config';
import { guardedCallerPolicy } from '@mlops/platform';
import { createRegistry } from '@mlops/registry';
import { openStore } from '@mlops/storage';
import pino from 'pino';
import { createPromoteApp } from './app.ts';
import type { PromoteDeps } from './promote.ts';
import { loadPromoteSettings, type PromoteSettings } from './settings.ts';

/**
 * promote's dependencies from the environment. The CLI's rollback uses them too, logging to stderr
 * (`logTo: 2`) so that its stdout stays its own.
 */
export function promoteDeps(env: NodeJS.ProcessEnv = process.env, logTo: 1 | 2 = 1): PromoteDeps & { settings: PromoteSettings } {
  const settings = loadSettings(env);
  const promote = loadPromoteSettings(env);
  const logger = pino({ level: promote.LOG_LEVEL, base: { service: 'promote' } }, pino.destination({ fd: logTo, sync: true }));
  const store = openStore(settings.MLOPS_STORE, env);
  return {
    store,
    registry: createRegistry(store, settings.MLOPS_MODEL),
    cacheDir: settings.MLOPS_CACHE_DIR,
    windowMinutes: promote.PROMOTE_WINDOW_MINUTES,
    baseEval: promote.PROMOTE_BASE_EVAL ?? defaultData(settings).eval,
    baseFields: { textField: promote.PROMOTE_BASE_TEXT_FIELD, labelField: promote.PROMOTE_BASE_LABEL_FIELD },
    baseRows: promote.PROMOTE_BASE_ROWS,
    trustedCallers: promote.MLOPS_TRUSTED_CALLERS,
    gate: {
      margin: promote.PROMOTE_MARGIN,
      tolerance: promote.PROMOTE_TOLERANCE,
      maxLatencyRatio: promote.PROMOTE_MAX_LATENCY_RATIO,
      minHoldout: promote.PROMOTE_MIN_HOLDOUT,
    },
    canary: {
      weight: promote.PROMOTE_CANARY_WEIGHT,
      minLabels: promote.PROMOTE_CANARY_MIN_LABELS,
      maxMinutes: promote.PROMOTE_CANARY_MAX_MINUTES,
      tolerance: promote.PROMOTE_TOLERANCE,
    },
    alerter: createAlerter(env, logger),
    logger,
    actor: `promote@${settings.MLOPS_ACTOR}`,
    settings: promote,
  };
}

/** Wires promote from the environment; each host wraps the same `app`. */
export function createPromoteService(env: NodeJS.ProcessEnv = process.env) {
  const { settings, ...deps } = promoteDeps(env);
  const routes = ['POST /v1/candidates', 'POST /v1/canary/review', 'POST /v1/rollback'];
  const caller = guardedCallerPolicy(settings, { store: deps.store.uri, routes, logger: deps.logger });
  return { app: createPromoteApp({ ...deps, caller }), logger: deps.logger };
}
