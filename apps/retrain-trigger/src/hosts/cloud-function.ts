/** Cloud Functions (2nd gen) entry, called by Cloud Scheduler with an OIDC token. */
import { registerHttpFunction } from '@mlops/platform';
import { createRetrainService } from '../service.ts';

registerHttpFunction('retrain-trigger', createRetrainService().app);
