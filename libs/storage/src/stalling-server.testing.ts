import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface StallingServer {
  endpoint: string;
  /** Requests seen, as "METHOD url". */
  requests: string[];
  close(): Promise<void>;
}

/**
 * An HTTP server on 127.0.0.1 whose `handle` may answer late, in part or never: what a store's
 * client sees of a hung server. Closing it drops every connection still open.
 */
export async function startStallingServer(handle: (req: IncomingMessage, res: ServerResponse) => void): Promise<StallingServer> {
  const sockets = new Set<Socket>();
  const requests: string[] = [];
  const server = createServer((req, res) => {
    requests.push(`${req.method ?? ''} ${req.url ?? ''}`);
    handle(req, res);
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    requests,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** Never answers (the connection stays open). */
export const neverAnswer = (): void => undefined;

/** Answers 200 with the headers of a `size`-byte body, sends its first 16 bytes, then nothing more. */
export function stallAfterHeaders(size: number, headers: Record<string, string> = {}) {
  return (req: IncomingMessage, res: ServerResponse): void => {
    req.resume();
    res.writeHead(200, { 'content-length': String(size), 'content-type': 'application/octet-stream', ...headers });
    res.write(Buffer.alloc(16, 'x'));
  };
}
