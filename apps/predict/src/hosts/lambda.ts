/**
 * AWS Lambda entry (API Gateway v1/v2, Function URL). Module init runs once per instance, so the
 * model is downloaded and warmed here, not in the first request. Buffered prediction-log records
 * flush on the timer while the instance is thawed; Lambda sends no SIGTERM without an extension.
 */
import { createLambdaHandler } from '@mlops/platform';
import { createPredictService } from '../service.ts';

const service = createPredictService();
await service.start();

export const handler = createLambdaHandler(service.app);
