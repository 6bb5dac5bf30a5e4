export { HttpError, requestContext, type FunctionEnv, type RequestLogger } from './http.ts';
