export { createLambdaHandler } from './handler.ts';
export type { LambdaHandler, LambdaHandlerOptions, S3Event } from './types.ts';
export { s3EventSchema } from './types.ts';
