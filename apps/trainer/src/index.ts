export { DEFAULT_HYPERPARAMETERS, trainModel, type Hyperparameters, type ModelShape, type TrainOptions, type TrainProgress, type TrainResult } from './train-job.ts';
export { TrainingCoreError } from './python-core.ts';
export { ParityError } from './parity.ts';
export type { CoreEvent } from './events.ts';
