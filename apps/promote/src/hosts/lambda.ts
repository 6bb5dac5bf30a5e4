/** AWS Lambda entry: HTTP events (candidates, canary reviews, rollbacks). */
import { createLambdaHandler } from '@mlops/platform';
import { createPromoteService } from '../service.ts';

export const handler = createLambdaHandler(createPromoteService().app);
