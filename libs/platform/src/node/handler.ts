import { serve } from '@hono/node-server';
import type { Env, Hono, Schema } from 'hono';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { NodeServeOptions, NodeServer } from './types.ts';

const SHUTDOWN_SIGNALS = ['SIGTERM', 'SIGINT'] as const;

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
  const close = (): Promise<void> =>
    (closing ??= (async () => {
      for (const signal of SHUTDOWN_SIGNALS) process.off(signal, onSignal);
      // Stops listening and resolves once the requests still running have been answered.
      await new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve())));
      await options.onShutdown?.();
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
