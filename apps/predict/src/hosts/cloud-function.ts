/**
 * Cloud Functions (2nd gen) entry: `functions-framework --target=predict --source=<this file>`.
 * The framework awaits this module before it listens, so the model is loaded before the first request.
 * The framework exits at once on SIGTERM and CPU is throttled between requests, so the prediction
 * log is flushed before each response.
 */
import { registerHttpFunction } from '@mlops/platform';
import { createPredictService } from '../service.ts';

const service = createPredictService(process.env, { flushLogPerRequest: true });
await service.start();
registerHttpFunction('predict', service.app);
