export { createRetrainApp } from './app.ts';
export { buildTrainingSet } from './dataset.ts';
export { fineTuneHyperparameters, trainingJobArgs, type FineTuneHyperparameters } from './job-args.ts';
export { decide, type RetrainPolicy } from './policy.ts';
export { createRetrainService } from './service.ts';
export { loadRetrainSettings } from './settings.ts';
export { RetrainTrigger, type RetrainDeps, type TriggerResult } from './trigger.ts';
export { startNodeHost } from './hosts/node.ts';
