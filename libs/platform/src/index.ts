export { serveNode, type NodeHostOptions, type NodeServer } from './node/index.ts';
export { registerHttpFunction } from './cloud-functions/index.ts';
export { createLambdaHandler, s3EventSchema, type S3Event } from './aws-lambda/index.ts';
export {
  callFunction,
  FunctionCallError,
  HttpError,
  jsonBodyLimit,
  parseOr400,
  readJsonBody,
  requestContext,
  requireApiKey,
  type FunctionEnv,
  type FunctionTarget,
  type RequestLogger,
} from './http/index.ts';
