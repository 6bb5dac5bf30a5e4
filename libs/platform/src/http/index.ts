export { HttpError, jsonBodyLimit, parseOr400, readJsonBody, requestContext, type FunctionEnv, type RequestLogger } from './http.ts';
export { requireApiKey } from './auth.ts';
export { callFunction, FunctionCallError, type FunctionTarget } from './client.ts';
