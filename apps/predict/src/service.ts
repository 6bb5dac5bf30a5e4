import { loadSettings } from '@mlops/config';
import { createRegistry } from '@mlops/registry';
import { openStore } from '@mlops/storage';
import pino from 'pino';
import { createPredictApp } from './app.ts';
import { ModelWatcher } from './model-watcher.ts';
import { loadPredictSettings } from './settings.ts';

/**
 * Wires predict from the environment: registry on the configured store, a watcher following the
 * alias, the Hono app. Each host (Node server, Cloud Functions, Lambda) wraps the same `app`.
 */
export function createPredictService(env: NodeJS.ProcessEnv = process.env) {
  const settings = loadSettings(env);
  const predict = loadPredictSettings(env);
  const logger = pino({ level: predict.LOG_LEVEL, base: { service: 'predict' } });
  const registry = createRegistry(openStore(settings.MLOPS_STORE), settings.MLOPS_MODEL);
  const watcher = new ModelWatcher(registry, {
    alias: predict.PREDICT_ALIAS,
    cacheDir: settings.MLOPS_CACHE_DIR,
    pollMs: predict.PREDICT_POLL_SECONDS * 1000,
    serving: {
      maxBatchSize: predict.PREDICT_MAX_BATCH,
      maxWaitMs: predict.PREDICT_MAX_WAIT_MS,
      ...(predict.PREDICT_THREADS ? { threads: predict.PREDICT_THREADS } : {}),
    },
    logger,
  });
  const app = createPredictApp({
    models: watcher,
    modelName: settings.MLOPS_MODEL,
    limits: { maxTexts: predict.PREDICT_MAX_TEXTS, maxTextBytes: predict.PREDICT_MAX_TEXT_BYTES, maxBodyBytes: predict.PREDICT_MAX_BODY_BYTES },
    logger,
  });
  return { app, watcher, logger, start: () => watcher.start(), stop: () => watcher.stop() };
}
