/** Cloud Functions (2nd gen) entry, called by Cloud Scheduler with an OIDC token. */
import { registerHttpFunction } from '@mlops/platform';
import { createEvaluateService } from '../service.ts';

registerHttpFunction('evaluate', createEvaluateService().app);
