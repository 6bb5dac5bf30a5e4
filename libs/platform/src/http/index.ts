export {
  callerName,
  HttpError,
  jsonBodyLimit,
  parseOr400,
  readJsonBody,
  requestContext,
  scheduledTimeOf,
  SCHEDULED_TIME_HEADER,
  type Caller,
  type FunctionEnv,
  type RequestLogger,
} from './http.ts';
export {
  handleErrors,
  statusOfError,
  STATUS_BY_ERROR_CODE,
  type DomainErrorCode,
  type ErrorDetail,
  type ErrorHandlingOptions,
  type ErrorLogger,
} from './errors.ts';
export { isOpenPolicy, requireApiKey, requireCaller, type CallerPolicy, type OidcPolicy } from './auth.ts';
export {
  callAuthFrom,
  callAuthSettings,
  callerAuthSettings,
  callerPolicyFrom,
  describeCallerPolicy,
  guardedCallerPolicy,
  trustedCallersSettings,
  type CallAuth,
  type CallAuthSettings,
  type CallerAuthSettings,
  type GuardedRoutes,
} from './auth-settings.ts';
export { callFunction, FunctionCallError, type FunctionTarget } from './client.ts';
