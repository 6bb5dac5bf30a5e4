export { serveNode } from './node/index.ts';
export { registerHttpFunction } from './cloud-functions/index.ts';
export { createLambdaHandler, s3EventSchema, type S3Event } from './aws-lambda/index.ts';
export { HttpError, jsonBodyLimit, parseOr400, readJsonBody, requestContext, type FunctionEnv, type RequestLogger } from './http/index.ts';
