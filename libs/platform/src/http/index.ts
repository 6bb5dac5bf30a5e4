export { HttpError, jsonBodyLimit, parseOr400, readJsonBody, requestContext, type FunctionEnv, type RequestLogger } from './http.ts';
