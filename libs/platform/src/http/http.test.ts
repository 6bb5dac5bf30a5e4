import { Hono } from 'hono';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serveNode } from '../node/handler.ts';
import type { NodeServer } from '../node/types.ts';
import { HttpError, jsonBodyLimit, readJsonBody } from './http.ts';

describe('jsonBodyLimit over real HTTP', () => {
  let server: NodeServer;
  let base: string;

  beforeAll(async () => {
    const app = new Hono();
    app.onError((error, c) =>
      error instanceof HttpError ? c.json({ error: error.message }, error.status) : c.json({ error: 'internal' }, 500),
    );
    app.post('/echo', jsonBodyLimit(100), async (c) => c.json({ body: await readJsonBody(c) }));
    server = await serveNode(app, { port: 0, hostname: '127.0.0.1', handleSignals: false });
    base = `http://127.0.0.1:${server.port}`;
  });
  afterAll(() => server.close());

  const json = (text: string) => ({ text, pad: '' });
  const sized = (bytes: number) => {
    const body = json('');
    body.pad = 'x'.repeat(bytes - JSON.stringify(body).length);
    return JSON.stringify(body);
  };
  // fetch sends a string with content-length and a stream chunked, without one.
  const streamed = (text: string) =>
    new ReadableStream<Uint8Array>({
      start(controller) {
        const bytes = new TextEncoder().encode(text);
        for (let i = 0; i < bytes.length; i += 30) controller.enqueue(bytes.subarray(i, i + 30));
        controller.close();
      },
    });
  const post = (body: string | ReadableStream<Uint8Array>) =>
    fetch(`${base}/echo`, { method: 'POST', headers: { 'content-type': 'application/json' }, body, duplex: 'half' } as RequestInit);

  it.each([
    ['with content-length', (text: string) => text],
    ['chunked', streamed],
  ])('passes a body at the limit and refuses one over it with 413 (%s)', async (_how, send) => {
    const ok = await post(send(sized(100)));
    expect(ok.status).toBe(200);
    expect(((await ok.json()) as { body: { pad: string } }).body.pad).toHaveLength(100 - JSON.stringify(json('')).length);
    const tooLarge = await post(send(sized(101)));
    expect(tooLarge.status).toBe(413);
    expect(await tooLarge.json()).toEqual({ error: 'request body larger than 100 bytes' });
  });
});
