/** AWS Lambda entry: HTTP events, and the EventBridge schedule that runs one evaluation. */
import { createLambdaHandler } from '@mlops/platform';
import { createEvaluateService } from '../service.ts';

const service = createEvaluateService();
// EventBridge is authorized by IAM; the inner request carries the key the app checks.
export const handler = createLambdaHandler(service.app, {
  onSchedule: { path: '/v1/evaluate', ...(service.apiKey && { headers: { authorization: `Bearer ${service.apiKey}` } }) },
});
