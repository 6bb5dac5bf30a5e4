import { serve } from '@hono/node-server';
import type { Env, Hono, Schema } from 'hono';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { NodeServeOptions, NodeServer } from './types.ts';

const SHUTDOWN_SIGNALS = ['SIGTERM', 'SIGINT'] as const;
const DEFAULT_SHUTDOWN_DEADLINE_MS = 8_000;

/** Whether `work` settles within `ms` ('late' leaves it running); its rejection passes through. */
async function within(work: Promise<unknown>, ms: number): Promise<'done' | 'late'> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), ms)));
  try {
    return await Promise.race([work.then(() => 'done' as const), late]);
  } finally {
    clearTimeout(timer);
  }
}

export async function serveNode<E extends Env, S extends Schema, B extends string>(
  app: Hono<E, S, B>,
  options: NodeServeOptions = {},
): Promise<NodeServer> {
  const requestedPort = options.port ?? (Number(process.env.PORT) || 8080);
  const hostname = options.hostname ?? '0.0.0.0';

  const { server, address } = await new Promise<{ server: ReturnType<typeof serve>; address: AddressInfo }>((resolve, reject) => {
    // Only the Request is passed on: apps must not depend on Node bindings.
    const server = serve({ fetch: (request) => app.fetch(request), port: requestedPort, hostname }, (address) => {
      server.off('error', reject);
      resolve({ server, address });
    });
    server.once('error', reject); // e.g. EADDRINUSE
  });

  let closing: Promise<void> | undefined;
  // server.close() drops idle keep-alive sockets, but a socket busy at that moment would then
  // stay open until the client's keep-alive timeout: drop it as soon as its response is out.
  // (serve() builds a plain node:http server unless given another createServer.)
  const httpServer = server as Server;
  httpServer.on('request', (_request, response) =>
    response.once('finish', () => {
      if (closing) httpServer.closeIdleConnections();
    }),
  );
  const deadlineMs = options.shutdownDeadlineMs ?? DEFAULT_SHUTDOWN_DEADLINE_MS;
  const close = (): Promise<void> =>
    (closing ??= (async () => {
      for (const signal of SHUTDOWN_SIGNALS) process.off(signal, onSignal);
      // Stops listening and resolves once the requests still running have been answered; a request
      // that hangs past its share of the deadline has its connection closed.
      const drained = new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve())));
      if ((await within(drained, deadlineMs / 2)) === 'late') {
        httpServer.closeAllConnections();
        await drained;
      }
      const flushed = options.onShutdown?.();
      if (flushed && (await within(flushed, deadlineMs / 2)) === 'late') {
        throw new Error(`onShutdown did not finish within ${deadlineMs / 2} ms (a store call hanging?)`);
      }
    })());

  // Cloud Run sends SIGTERM and waits (10 s by default) before SIGKILL: drain, flush, exit.
  function onSignal(signal: NodeJS.Signals): void {
    close().then(
      () => process.exit(0),
      (error: unknown) => {
        console.error(`graceful shutdown after ${signal} failed`, error);
        process.exit(1);
      },
    );
  }
  if (options.handleSignals ?? true) for (const signal of SHUTDOWN_SIGNALS) process.on(signal, onSignal);

  return { port: address.port, close };
}
