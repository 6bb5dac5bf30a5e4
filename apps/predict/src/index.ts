export { createPredictApp, type PredictAppOptions, type PredictLimits } from './app.ts';
export { ModelWatcher, type ModelSource } from './model-watcher.ts';
export { createPredictService } from './service.ts';
