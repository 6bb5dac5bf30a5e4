import type { RetrainSettings } from './settings.ts';

/**
 * Fine-tuning values by the training job's flag names (`epochs`, `lr`, `max-length`, … from the
 * trainer's TRAINING_SETTINGS). A function may not import the trainer (lint boundaries), so the mlops
 * CLI's tests parse these with the trainer's own parser: a name it does not know fails there.
 */
export type FineTuneHyperparameters = Readonly<Record<string, number>>;

/** The fine-tuning values retrain-trigger's settings ask for (RETRAIN_EPOCHS, RETRAIN_LR). */
export function fineTuneHyperparameters(settings: Pick<RetrainSettings, 'RETRAIN_EPOCHS' | 'RETRAIN_LR'>): FineTuneHyperparameters {
  return { epochs: settings.RETRAIN_EPOCHS, lr: settings.RETRAIN_LR };
}

/** The training job's command line (apps/trainer/src/job-args.ts reads it): fine-tune `baseVersion` on a data set in the store. */
export function trainingJobArgs(job: {
  dataKey: string;
  baseVersion: string;
  runId: string;
  reason: string;
  hyperparameters: FineTuneHyperparameters;
}): string[] {
  return [
    '--data',
    `store:${job.dataKey}`,
    '--eval',
    'none',
    '--base-version',
    job.baseVersion,
    '--run-id',
    job.runId,
    ...Object.entries(job.hyperparameters).flatMap(([flag, value]) => [`--${flag}`, String(value)]),
    '--reason',
    job.reason,
  ];
}
