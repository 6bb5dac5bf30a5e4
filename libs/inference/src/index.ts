export {
  downloadForInference,
  findOnnxModel,
  lengthGroups,
  ModelLoadError,
  positionsConfigSchema,
  TextClassifier,
  usablePositions,
  type PaddedBatch,
  type Prediction,
} from './classifier.ts';
export { holdForInference, type CachedVersion } from './cache-holds.ts';
export { MicroBatcher, OverloadedError, type MicroBatcherOptions } from './micro-batcher.ts';
export { defaultSessionLayout, InferenceError, LARGE_MODEL_BYTES, type SessionPoolOptions } from './session-pool.ts';
export { ServingModel, type ModelMetadata, type ServingOptions } from './serving-model.ts';
export { ModelWatcher, type ModelSource, type ModelWatcherOptions } from './model-watcher.ts';
export { CanaryRouter, routePoint, type WatchedModel } from './canary-router.ts';
