export { serveNode, type NodeHostOptions, type NodeServer } from './node/index.ts';
export { registerHttpFunction } from './cloud-functions/index.ts';
export { createLambdaHandler, s3EventSchema, type S3Event } from './aws-lambda/index.ts';
export {
  callerAuthSettings,
  callerName,
  callerPolicyFrom,
  callFunction,
  describeCallerPolicy,
  FunctionCallError,
  HttpError,
  isOpenPolicy,
  jsonBodyLimit,
  parseOr400,
  readJsonBody,
  requestContext,
  requireApiKey,
  requireCaller,
  type Caller,
  type CallerAuthSettings,
  type CallerPolicy,
  type FunctionEnv,
  type FunctionTarget,
  type OidcPolicy,
  type RequestLogger,
} from './http/index.ts';
