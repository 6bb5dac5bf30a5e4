import { loadSettings } from '@mlops/config';
import { ModelWatcher } from '@mlops/inference';
import { guardedCallerPolicy } from '@mlops/platform';
import { createRegistry } from '@mlops/registry';
import { openStore } from '@mlops/storage';
import pino from 'pino';
import { createBatchScoreApp } from './app.ts';
import { handleS3Event, type S3Notification } from './events.ts';
import { watchInbox, type InboxWatcher } from './inbox.ts';
import type { BatchContext } from './job.ts';
import { batchServingOptions, loadBatchSettings } from './settings.ts';

/**
 * Wires batch-score from the environment: registry on the configured store, a watcher following
 * the alias, the Hono app, and on a file:// store the inbox watcher. Each host (Node server,
 * Cloud Functions, Lambda) wraps the same `app`; Lambda's S3 notifications go to `handleS3Event`.
 */
export function createBatchScoreService(env: NodeJS.ProcessEnv = process.env) {
  const settings = loadSettings(env);
  const batch = loadBatchSettings(env);
  const logger = pino({ level: batch.LOG_LEVEL, base: { service: 'batch-score' } });
  const store = openStore(settings.MLOPS_STORE, env);
  const caller = guardedCallerPolicy(batch, { store: store.uri, routes: ['POST /', 'POST /s3'], logger });
  const watcher = new ModelWatcher(createRegistry(store, settings.MLOPS_MODEL), {
    alias: batch.BATCH_ALIAS,
    cacheDir: settings.MLOPS_CACHE_DIR,
    pollMs: batch.BATCH_POLL_SECONDS * 1000,
    // Chunks are split into full batches, so waiting for company would only add latency.
    serving: batchServingOptions(batch),
    logger,
  });
  const ctx: BatchContext = {
    store,
    models: watcher,
    logger,
    inputPrefix: batch.BATCH_INPUT_PREFIX,
    outputPrefix: batch.BATCH_OUTPUT_PREFIX,
    ...(batch.BATCH_BUCKET ? { bucket: batch.BATCH_BUCKET } : {}),
    chunkRows: batch.BATCH_CHUNK_ROWS,
    batchSize: batch.BATCH_MAX_BATCH,
    textField: batch.BATCH_TEXT_FIELD,
    maxLineBytes: batch.BATCH_MAX_LINE_BYTES,
  };
  // Cloud stores deliver events; only the local folder store needs watching.
  const watchSeconds = batch.BATCH_WATCH_SECONDS ?? (store.uri.startsWith('file://') ? 5 : 0);
  let inbox: InboxWatcher | undefined;
  const start = async () => {
    await watcher.start();
    if (watchSeconds > 0) inbox = watchInbox(ctx, { pollMs: watchSeconds * 1000 });
  };
  const stop = async () => {
    await inbox?.stop();
    await watcher.stop();
  };
  return {
    app: createBatchScoreApp(ctx, caller),
    ctx,
    watcher,
    logger,
    start,
    stop,
    handleS3Event: (event: S3Notification) => handleS3Event(ctx, event),
  };
}
