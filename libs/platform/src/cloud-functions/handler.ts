import * as functions from '@google-cloud/functions-framework';
import type { Env, Hono, Schema } from 'hono';
import type { FunctionsRequest, FunctionsResponse } from './types.ts';

/** Registers `app` as the HTTP function `name` (the `--target` / FUNCTION_TARGET at deploy time). */
export function registerHttpFunction<E extends Env, S extends Schema, B extends string>(name: string, app: Hono<E, S, B>): void {
  functions.http(name, async (req: FunctionsRequest, res: FunctionsResponse) => {
    const response = await app.fetch(await toFetchRequest(req));
    await writeResponse(response, res);
  });
}

async function toFetchRequest(req: FunctionsRequest): Promise<Request> {
  // `trust proxy` is on in the framework, so protocol honours X-Forwarded-Proto.
  const url = new URL(req.originalUrl, `${req.protocol}://${req.get('host') ?? 'localhost'}`);
  const headers = new Headers();
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined) continue;
    for (const item of Array.isArray(value) ? value : [value]) headers.append(name, item);
  }
  if (req.method === 'GET' || req.method === 'HEAD') return new Request(url, { method: req.method, headers });

  // The framework's parsers have consumed the stream; rawBody has the bytes. With no
  // Content-Type header none of them runs, so the stream is still unread.
  const body = req.rawBody ?? (await readStream(req));
  // The bytes are decoded, so the client's length and encoding no longer describe them.
  headers.delete('content-encoding');
  headers.delete('transfer-encoding');
  headers.set('content-length', String(body.byteLength));
  return new Request(url, { method: req.method, headers, body: new Uint8Array(body) });
}

async function readStream(req: FunctionsRequest): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk)));
  return Buffer.concat(chunks);
}

async function writeResponse(response: Response, res: FunctionsResponse): Promise<void> {
  res.status(response.status);
  response.headers.forEach((value, name) => {
    if (name !== 'set-cookie') res.setHeader(name, value);
  });
  const cookies = response.headers.getSetCookie();
  if (cookies.length > 0) res.setHeader('set-cookie', cookies);
  // Buffered rather than streamed: the apps answer with small JSON documents.
  res.end(Buffer.from(await response.arrayBuffer()));
}
