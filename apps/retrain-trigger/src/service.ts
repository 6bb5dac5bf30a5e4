import { join } from 'node:path';
import { createAlerter } from '@mlops/alerts';
import { defaultData, loadSettings, REPO_ROOT } from '@mlops/config';
import { createLauncher, LocalProcessLauncher } from '@mlops/jobs';
import { callAuthFrom, callFunction, guardedCallerPolicy } from '@mlops/platform';
import { createRegistry } from '@mlops/registry';
import { openStore } from '@mlops/storage';
import pino from 'pino';
import { createRetrainApp } from './app.ts';
import { fineTuneHyperparameters } from './job-args.ts';
import { loadRetrainSettings } from './settings.ts';
import { RetrainTrigger } from './trigger.ts';

/** Wires retrain-trigger from the environment; each host wraps the same `app`. */
export function createRetrainService(env: NodeJS.ProcessEnv = process.env) {
  const settings = loadSettings(env);
  const retrain = loadRetrainSettings(env);
  const logger = pino({ level: retrain.LOG_LEVEL, base: { service: 'retrain-trigger' } });
  const store = openStore(settings.MLOPS_STORE, env);
  const caller = guardedCallerPolicy(retrain, {
    store: store.uri,
    routes: ['POST /v1/trigger', 'POST /v1/runs/sync', 'GET /v1/runs'],
    logger,
  });
  // The embedded default runs the training job's own entry as a child process, with this environment.
  const launcher = createLauncher(env, {
    command: [process.execPath, '--import', 'tsx', join(REPO_ROOT, 'apps', 'trainer', 'src', 'main.ts')],
    cwd: REPO_ROOT,
    logDir: join(settings.MLOPS_CACHE_DIR, 'job-logs'),
    env: { ...env },
  });
  const key = retrain.MLOPS_API_KEY;
  const promoteUrl = retrain.PROMOTE_URL;
  const calls = callAuthFrom(retrain, [promoteUrl]);
  const trigger = new RetrainTrigger({
    store,
    registry: createRegistry(store, settings.MLOPS_MODEL),
    launcher,
    policy: {
      mode: retrain.RETRAIN_MODE,
      cooldownMinutes: retrain.RETRAIN_COOLDOWN_MINUTES,
      dailyCap: retrain.RETRAIN_DAILY_CAP,
      minNewLabels: retrain.RETRAIN_MIN_NEW_LABELS,
    },
    training: {
      baseData: retrain.RETRAIN_BASE_DATA ?? defaultData(settings).train,
      baseRows: retrain.RETRAIN_BASE_ROWS,
      baseFields: { textField: retrain.RETRAIN_BASE_TEXT_FIELD, labelField: retrain.RETRAIN_BASE_LABEL_FIELD },
      hyperparameters: fineTuneHyperparameters(retrain),
      gpu: retrain.RETRAIN_GPU,
      trustedCallers: retrain.MLOPS_TRUSTED_CALLERS,
    },
    alerter: createAlerter(env, logger),
    ...(promoteUrl && { promote: (candidate) => callFunction(calls.target(promoteUrl, 600_000), 'v1/candidates', candidate) }),
    ...(launcher instanceof LocalProcessLauncher && { waitFor: (id: string) => launcher.wait(id) }),
    logger,
    actor: `retrain-trigger@${settings.MLOPS_ACTOR}`,
  });
  if (promoteUrl) logger.info(`calls to other functions authenticate with: ${calls.mode}`);
  return { app: createRetrainApp({ trigger, caller, logger }), trigger, logger, apiKey: key };
}
