// The Express-style request/response the Functions Framework hands to an HTTP function.
// `rawBody` holds the exact bytes its body parsers consumed (already gunzipped if the client
// sent Content-Encoding: gzip).
export type { Request as FunctionsRequest, Response as FunctionsResponse } from '@google-cloud/functions-framework';
