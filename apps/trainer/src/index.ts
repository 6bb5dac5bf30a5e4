export { trainModel, type TrainOptions, type TrainProgress, type TrainResult } from './train-job.ts';
export {
  DEFAULT_HYPERPARAMETERS,
  flagName,
  givenHyperparametersSchema,
  HYPERPARAMETER_NAMES,
  hyperparametersSchema,
  TRAINING_SETTINGS,
  type HyperparameterName,
  type Hyperparameters,
  type TrainingSetting,
} from './hyperparameters.ts';
export { parseJobArgs, type JobArgs } from './job-args.ts';
export { TrainingCoreError } from './python-core.ts';
export { ParityError } from './parity.ts';
export type { CoreEvent } from './events.ts';
export { labelListSchema } from './training-data.ts';
