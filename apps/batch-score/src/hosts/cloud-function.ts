/**
 * Cloud Functions (2nd gen) entry: `functions-framework --target=batch-score --source=<this file>`,
 * triggered by Eventarc's GCS object-finalized CloudEvents over HTTP.
 */
import { registerHttpFunction } from '@mlops/platform';
import { createBatchScoreService } from '../service.ts';

const service = createBatchScoreService();
await service.start();
registerHttpFunction('batch-score', service.app);
