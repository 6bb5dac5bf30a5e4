import { loadSettings } from '@mlops/config';
import { CanaryRouter, ModelWatcher } from '@mlops/inference';
import { PredictionLog, PredictionLookup, writeFeedback } from '@mlops/monitoring';
import { callerPolicyFrom, guardedCallerPolicy, isOpenPolicy } from '@mlops/platform';
import { createRegistry } from '@mlops/registry';
import { openStore } from '@mlops/storage';
import pino from 'pino';
import { createPredictApp } from './app.ts';
import { loadPredictSettings } from './settings.ts';

/**
 * Wires predict from the environment: registry on the configured store, a watcher following the
 * alias, the Hono app. Each host (Node server, Cloud Functions, Lambda) wraps the same `app`; hosts
 * that freeze between requests ask for `flushLogPerRequest`.
 */
export function createPredictService(env: NodeJS.ProcessEnv = process.env, host: { flushLogPerRequest?: boolean } = {}) {
  const settings = loadSettings(env);
  const predict = loadPredictSettings(env);
  const logger = pino({ level: predict.LOG_LEVEL, base: { service: 'predict' } });
  if (predict.PREDICT_REQUIRE_AUTH && isOpenPolicy(callerPolicyFrom(predict))) {
    throw new Error('PREDICT_REQUIRE_AUTH is true but neither MLOPS_API_KEY nor MLOPS_OIDC_AUDIENCES is set: nobody could be checked');
  }
  const store = openStore(settings.MLOPS_STORE, env);
  const caller = guardedCallerPolicy(predict, {
    store: store.uri,
    routes: [
      ...(predict.PREDICT_FEEDBACK ? ['POST /v1/feedback'] : []),
      ...(predict.PREDICT_REQUIRE_AUTH ? ['POST /v1/predict', 'POST /v2/models/:name/infer'] : []),
    ],
    logger,
  });
  const registry = createRegistry(store, settings.MLOPS_MODEL);
  const predictionLog =
    predict.PREDICT_LOG_SAMPLE_RATE > 0
      ? new PredictionLog(store, {
          sampleRate: predict.PREDICT_LOG_SAMPLE_RATE,
          includeText: predict.PREDICT_LOG_TEXT,
          maxBuffered: 1000,
          flushMs: predict.PREDICT_LOG_FLUSH_SECONDS * 1000,
          onError: (err) => logger.error({ err }, 'prediction log flush failed; records kept for the next flush'),
        })
      : undefined;
  const watch = (alias: string, unloadWhenUnset: boolean) =>
    new ModelWatcher(registry, {
      alias,
      cacheDir: settings.MLOPS_CACHE_DIR,
      pollMs: predict.PREDICT_POLL_SECONDS * 1000,
      serving: {
        maxBatchSize: predict.PREDICT_MAX_BATCH,
        maxWaitMs: predict.PREDICT_MAX_WAIT_MS,
        maxQueued: predict.PREDICT_MAX_QUEUED,
        maxQueueMs: predict.PREDICT_MAX_QUEUE_MS,
        ...(predict.PREDICT_THREADS !== undefined && { threads: predict.PREDICT_THREADS }),
        ...(predict.PREDICT_SESSIONS !== undefined && { sessions: predict.PREDICT_SESSIONS }),
      },
      logger,
      unloadWhenUnset,
    });
  const watcher = watch(predict.PREDICT_ALIAS, false);
  // A challenger is loaded only while its alias exists; the router sends it its canary share.
  const challenger = predict.PREDICT_CHALLENGER_ALIAS ? watch(predict.PREDICT_CHALLENGER_ALIAS, true) : undefined;
  const lookup = new PredictionLookup(store, predict.PREDICT_FEEDBACK_LOOKUP_DAYS, { maxBytes: predict.PREDICT_FEEDBACK_LOOKUP_MAX_BYTES });
  const app = createPredictApp({
    models: challenger ? new CanaryRouter(watcher, challenger) : watcher,
    ...(predict.PREDICT_FEEDBACK && {
      feedback: {
        lookup: (ids) => lookup.find(ids),
        write: async (records) => void (await writeFeedback(store, records)),
      },
    }),
    modelName: settings.MLOPS_MODEL,
    limits: {
      maxTexts: predict.PREDICT_MAX_TEXTS,
      maxTextBytes: predict.PREDICT_MAX_TEXT_BYTES,
      maxBodyBytes: predict.PREDICT_MAX_BODY_BYTES,
    },
    logger,
    caller,
    requireAuthForPredict: predict.PREDICT_REQUIRE_AUTH,
    recentMaxBytes: predict.PREDICT_RECENT_MAX_BYTES,
    ...(predictionLog ? { onPredictions: (r) => predictionLog.record(r) } : {}),
    ...(predictionLog && host.flushLogPerRequest && { beforeResponse: () => predictionLog.flush() }),
  });
  const stop = async () => {
    // The log first: a watcher stuck on a store call must not keep the last predictions from it.
    await predictionLog?.close();
    await Promise.all([watcher.stop(), challenger?.stop()]);
  };
  const start = async () => {
    await Promise.all([watcher.start(), challenger?.start()]);
  };
  return { app, watcher, logger, start, stop };
}
