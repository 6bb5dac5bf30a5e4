/**
 * Cloud Functions (2nd gen) entry: `functions-framework --target=predict --source=<this file>`.
 * The framework awaits this module before it listens, so the model is loaded before the first request.
 * (The framework exits at once on SIGTERM: prediction-log records still buffered then are lost.)
 */
import { registerHttpFunction } from '@mlops/platform';
import { createPredictService } from '../service.ts';

const service = createPredictService();
await service.start();
registerHttpFunction('predict', service.app);
