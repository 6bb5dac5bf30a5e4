import { googleIdToken } from './id-token.ts';

/** Where another function answers, and how to prove who is calling. */
export interface FunctionTarget {
  url: string;
  /** Sent as `Authorization: Bearer <key>`; wins over `idTokenAudience`. */
  apiKey?: string | undefined;
  /** Send a Google-signed ID token for this audience (Cloud Run/Functions IAM invoker: the callee's URL). */
  idTokenAudience?: string | undefined;
  /** Bounds the whole call, getting the ID token included. */
  timeoutMs?: number;
}

export class FunctionCallError extends Error {
  readonly code = 'FUNCTION_CALL_FAILED';
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
  }
}

async function authorization(target: FunctionTarget, url: string, signal: AbortSignal, timeoutMs: number): Promise<string | undefined> {
  if (target.apiKey) return `Bearer ${target.apiKey}`;
  const audience = target.idTokenAudience;
  if (!audience) return undefined;
  try {
    return `Bearer ${await googleIdToken(audience, signal)}`;
  } catch (error) {
    const why =
      error instanceof Error && error.name === 'TimeoutError'
        ? `no answer within ${timeoutMs} ms`
        : error instanceof Error
          ? error.message
          : String(error);
    throw new FunctionCallError(
      `POST ${url} not sent: cannot get a Google ID token for audience ${audience} (${why}); ` +
        'on GCP the metadata server issues it, elsewhere set GOOGLE_APPLICATION_CREDENTIALS to a service-account key file',
    );
  }
}

/** POSTs JSON to another function and returns its JSON answer; a non-2xx answer or a timeout throws, naming the target. */
export async function callFunction(target: FunctionTarget, path: string, body: unknown): Promise<unknown> {
  const url = new URL(path, target.url.endsWith('/') ? target.url : `${target.url}/`).toString();
  const timeoutMs = target.timeoutMs ?? 30_000;
  const signal = AbortSignal.timeout(timeoutMs);
  const auth = await authorization(target, url, signal, timeoutMs);
  let res: Response;
  try {
    res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(auth && { authorization: auth }) },
      body: JSON.stringify(body),
      signal,
    });
  } catch (error) {
    throw new FunctionCallError(`POST ${url} failed: ${(error as Error).message}`);
  }
  const text = await res.text();
  let json: unknown;
  try {
    json = text === '' ? {} : JSON.parse(text);
  } catch {
    throw new FunctionCallError(`POST ${url} answered ${res.status} with non-JSON: ${text.slice(0, 200)}`, res.status);
  }
  if (!res.ok) {
    const error = typeof json === 'object' && json !== null && 'error' in json ? String(json.error) : text.slice(0, 200);
    throw new FunctionCallError(`POST ${url} answered ${res.status}: ${error}`, res.status);
  }
  return json;
}
