/** Cloud Functions (2nd gen) entry. */
import { registerHttpFunction } from '@mlops/platform';
import { createPromoteService } from '../service.ts';

registerHttpFunction('promote', createPromoteService().app);
