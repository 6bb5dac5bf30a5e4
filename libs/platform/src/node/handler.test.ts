import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { createTestApp } from '../test-app.ts';
import { serveNode } from './handler.ts';

describe('serveNode', () => {
  it('serves the app over real HTTP on the port it actually bound', async () => {
    const server = await serveNode(createTestApp(), { port: 0, hostname: '127.0.0.1' });
    try {
      expect(server.port).toBeGreaterThan(0);
      const base = `http://127.0.0.1:${server.port}`;

      const health = await fetch(`${base}/healthz`);
      expect(health.status).toBe(200);
      expect(await health.json()).toEqual({ status: 'ok' });

      const echo = await fetch(`${base}/echo?x=1`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-request-id': 'r-1' },
        body: JSON.stringify({ text: 'great movie' }),
      });
      expect(echo.status).toBe(200);
      expect(echo.headers.get('x-app')).toBe('echo');
      expect(echo.headers.getSetCookie()).toEqual(['a=1; Path=/', 'b=2; Path=/']);
      expect(await echo.json()).toMatchObject({ body: { text: 'great movie' }, path: '/echo', query: '?x=1', requestId: 'r-1' });

      const bad = await fetch(`${base}/echo`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{bad' });
      expect(bad.status).toBe(400);
      expect(await bad.json()).toEqual({ error: 'malformed JSON' });
    } finally {
      await server.close();
    }
  });

  it('close() lets an in-flight request finish, then runs onShutdown, then refuses connections', async () => {
    const events: string[] = [];
    const app = createTestApp();
    app.get('/recorded', async (c) => {
      await new Promise((resolve) => setTimeout(resolve, 300));
      events.push('handled');
      return c.text('done');
    });
    const server = await serveNode(app, {
      port: 0,
      hostname: '127.0.0.1',
      onShutdown: async () => {
        events.push('shutdown');
      },
    });
    const base = `http://127.0.0.1:${server.port}`;
    const slow = fetch(`${base}/recorded`);
    await new Promise((resolve) => setTimeout(resolve, 50)); // let the request reach the app
    const started = Date.now();
    await server.close();

    const response = await slow;
    expect(response.status).toBe(200);
    expect(await response.text()).toBe('done');
    expect(events).toEqual(['handled', 'shutdown']);
    // A busy keep-alive socket must not hold close() until the client's keep-alive timeout.
    expect(Date.now() - started).toBeLessThan(2_000);
    await expect(fetch(`${base}/healthz`)).rejects.toThrow();
    await server.close(); // idempotent
    expect(events).toEqual(['handled', 'shutdown']);
  });

  it('close() ends within its deadline with a request hanging, and still runs onShutdown; a hanging onShutdown fails it', async () => {
    const events: string[] = [];
    const app = createTestApp();
    app.get('/hang', () => new Promise<Response>(() => undefined));
    const server = await serveNode(app, {
      port: 0,
      hostname: '127.0.0.1',
      shutdownDeadlineMs: 400,
      onShutdown: async () => void events.push('flushed'),
    });
    const hanging = fetch(`http://127.0.0.1:${server.port}/hang`).then(
      () => 'answered',
      () => 'cut off',
    );
    await new Promise((resolve) => setTimeout(resolve, 50));
    const started = Date.now();
    await server.close();
    expect(Date.now() - started).toBeLessThan(1_500);
    expect(events).toEqual(['flushed']);
    expect(await hanging).toBe('cut off');

    const stuck = await serveNode(createTestApp(), {
      port: 0,
      hostname: '127.0.0.1',
      shutdownDeadlineMs: 200,
      onShutdown: () => new Promise<void>(() => undefined),
    });
    await expect(stuck.close()).rejects.toThrow(/onShutdown did not finish within 100 ms/);
  });

  it('on SIGTERM with a request hanging, flushes and exits within the deadline', async () => {
    const { child, port, output } = await startFixture({ SHUTDOWN_DEADLINE_MS: '600' });
    void fetch(`http://127.0.0.1:${port}/slow?ms=60000`).catch(() => undefined);
    await new Promise((resolve) => setTimeout(resolve, 50));
    const exited = once(child, 'exit');
    const started = Date.now();
    child.kill('SIGTERM');
    const [code] = await exited;
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(code).toBe(0);
    expect(output()).toContain('flushed');
  });

  it('on SIGTERM drains in-flight requests, runs onShutdown and exits 0', async () => {
    const { child, port, output } = await startFixture({});
    const slow = fetch(`http://127.0.0.1:${port}/slow?ms=300`);
    await new Promise((resolve) => setTimeout(resolve, 50));
    const exited = once(child, 'exit');
    child.kill('SIGTERM');

    const response = await slow;
    expect(response.status).toBe(200);
    expect(await response.text()).toBe('done');
    const [code] = await exited;
    expect(code).toBe(0);
    expect(output()).toContain('flushed');
  });
});

/** The SIGTERM fixture as a child process, once it listens. */
async function startFixture(env: Record<string, string>) {
  const fixture = fileURLToPath(new URL('./sigterm.fixture.ts', import.meta.url));
  const child = spawn(process.execPath, ['--import', 'tsx', fixture], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, ...env },
  });
  let stdout = '';
  child.stdout.setEncoding('utf8');
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout.on('data', (chunk: string) => {
      stdout += chunk;
      const match = /listening (\d+)/.exec(stdout);
      if (match?.[1]) resolve(Number(match[1]));
    });
    child.once('exit', (code) => reject(new Error(`fixture exited early with ${code}`)));
  });
  return { child, port, output: () => stdout };
}
