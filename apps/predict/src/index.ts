export { createPredictApp, type PredictAppOptions, type PredictLimits } from './app.ts';
export { createPredictService } from './service.ts';
