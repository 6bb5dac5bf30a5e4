/**
 * AWS Lambda entry: S3 event notifications are scored; HTTP events (API Gateway, Function URL) go
 * to the app. Module init runs once per instance, so the model is downloaded and warmed here.
 */
import { createLambdaHandler } from '@mlops/platform';
import { createBatchScoreService } from '../service.ts';

const service = createBatchScoreService();
await service.start();

export const handler = createLambdaHandler(service.app, {
  // Outcomes land in the summary objects; a throw (no model yet) makes Lambda retry the event.
  onS3Event: async (e) => {
    await service.handleS3Event(e);
  },
});
