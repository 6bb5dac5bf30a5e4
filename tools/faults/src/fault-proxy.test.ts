// The fault proxy itself, against a plain HTTP server: each mode does what it says.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startFaultProxy, type FaultProxy } from './fault-proxy.ts';

let upstream: Server;
let proxy: FaultProxy;
const seen: string[] = [];
beforeAll(async () => {
  upstream = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      seen.push(`${req.method} ${req.url} ${body}`);
      res.writeHead(200, { 'content-type': 'text/plain', 'x-host': req.headers.host ?? '' });
      res.end(`echo ${body}`);
    });
  });
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  proxy = await startFaultProxy(`http://127.0.0.1:${(upstream.address() as AddressInfo).port}`);
});
afterAll(async () => {
  await proxy.close();
  upstream.closeAllConnections();
  await new Promise<void>((resolve) => upstream.close(() => resolve()));
});

const send = (body: string, timeoutMs = 2_000) =>
  fetch(`${proxy.endpoint}/key`, { method: 'PUT', body, signal: AbortSignal.timeout(timeoutMs) }).then(
    async (res) => ({ status: res.status, text: await res.text(), host: res.headers.get('x-host') }),
    (error: Error) => ({ status: 0, text: error.name, host: null }),
  );

it('passes requests through byte for byte, Host header included', async () => {
  proxy.set({ kind: 'pass' });
  expect(await send('a')).toEqual({ status: 200, text: 'echo a', host: new URL(proxy.endpoint).host });
});

it('adds latency', async () => {
  proxy.set({ kind: 'latency', ms: 150 });
  const start = performance.now();
  expect((await send('b')).status).toBe(200);
  expect(performance.now() - start).toBeGreaterThanOrEqual(140);
});

it('answers a burst of 503s with an S3 error body, then passes', async () => {
  proxy.set({ kind: 'errors', count: 2 });
  const answers = [await send('c1'), await send('c2'), await send('c3')];
  expect(answers.map((a) => a.status)).toEqual([503, 503, 200]);
  expect(answers[0]!.text).toMatch(/<Code>SlowDown<\/Code>/);
  expect(seen.filter((s) => s.includes(' c'))).toEqual(['PUT /key c3']);
});

it('resets connections before the server sees them, or after it answered', async () => {
  proxy.set({ kind: 'reset', count: 1 });
  expect((await send('d1')).status).toBe(0);
  expect((await send('d2')).status).toBe(200);
  proxy.set({ kind: 'reset', count: 1, when: 'after' });
  expect((await send('e1')).status).toBe(0);
  expect(seen).toContain('PUT /key e1'); // it landed; the answer was lost
});

it('holds requests in a black hole, and drops them when it closes', async () => {
  proxy.set({ kind: 'blackhole' });
  expect(await send('f', 500)).toMatchObject({ status: 0, text: 'TimeoutError' });
  const held = send('g', 5_000);
  await new Promise((resolve) => setTimeout(resolve, 100));
  proxy.set({ kind: 'pass' });
  expect((await held).status).toBe(0);
  expect(seen.some((s) => s.includes(' f') || s.includes(' g'))).toBe(false);
  expect(proxy.stats().byKind.blackhole).toBe(2);
});
