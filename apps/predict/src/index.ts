export { createPredictApp, type PredictAppOptions, type PredictLimits } from './app.ts';
export { createPredictService } from './service.ts';
export { startNodeHost } from './hosts/node.ts';
