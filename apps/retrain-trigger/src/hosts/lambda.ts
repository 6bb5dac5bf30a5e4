/** AWS Lambda entry: HTTP events, and an EventBridge schedule for schedule-based retraining. */
import { createLambdaHandler } from '@mlops/platform';
import { createRetrainService } from '../service.ts';

const service = createRetrainService();
// IAM authorizes EventBridge; the inner request carries the key the app checks.
export const handler = createLambdaHandler(service.app, {
  onSchedule: {
    path: '/v1/trigger',
    body: { kind: 'schedule', reason: 'scheduled retrain' },
    ...(service.apiKey && { headers: { authorization: `Bearer ${service.apiKey}` } }),
  },
});
