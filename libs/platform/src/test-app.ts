import { Hono } from 'hono';

// Test-only: a tiny app that every host adapter test drives, so all three hosts are held to
// the same behaviour. Not exported from index.ts.
export function createTestApp(): Hono {
  const app = new Hono();
  app.get('/healthz', (c) => c.json({ status: 'ok' }));
  app.post('/echo', async (c) => {
    // Parsed by the app itself (not the host) so it can answer bad input with its own error shape.
    const text = await c.req.text();
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      return c.json({ error: 'malformed JSON' }, 400);
    }
    c.header('x-app', 'echo');
    c.header('set-cookie', 'a=1; Path=/', { append: true });
    c.header('set-cookie', 'b=2; Path=/', { append: true });
    const url = new URL(c.req.url);
    return c.json({
      body,
      path: url.pathname,
      query: url.search,
      contentType: c.req.header('content-type') ?? null,
      requestId: c.req.header('x-request-id') ?? null,
      cookie: c.req.header('cookie') ?? null,
    });
  });
  app.get('/bytes', (c) => {
    c.header('content-type', 'application/octet-stream');
    return c.body(new Uint8Array([0, 1, 2, 254, 255]));
  });
  app.get('/slow', async (c) => {
    await new Promise((resolve) => setTimeout(resolve, Number(c.req.query('ms') ?? 200)));
    return c.text('done');
  });
  return app;
}
