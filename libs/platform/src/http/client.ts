/** Where another function answers, and the key it wants. */
export interface FunctionTarget {
  url: string;
  apiKey?: string | undefined;
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

/** POSTs JSON to another function and returns its JSON answer; a non-2xx answer or a timeout throws, naming the target. */
export async function callFunction(target: FunctionTarget, path: string, body: unknown): Promise<unknown> {
  const url = new URL(path, target.url.endsWith('/') ? target.url : `${target.url}/`).toString();
  let res: Response;
  try {
    res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(target.apiKey ? { authorization: `Bearer ${target.apiKey}` } : {}) },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(target.timeoutMs ?? 30_000),
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
