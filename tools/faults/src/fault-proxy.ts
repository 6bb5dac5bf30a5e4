// An HTTP proxy on 127.0.0.1 in front of an S3-compatible server (the local s3rver of
// @mlops/storage/testing), whose faults are switched while it runs: pass-through, added latency,
// a burst of 5xx answers, connection resets (before the request reaches the server, or after its
// answer came back: a write that happened but whose answer was lost) and a black hole (accepted,
// never answered). Requests are forwarded byte for byte, Host header included, so SigV4 holds.
import { Agent, createServer, request, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export type FaultMode =
  | { kind: 'pass' }
  /** Each request waits `ms` before it is forwarded. */
  | { kind: 'latency'; ms: number }
  /** The next `count` requests answer `status` (503) with an S3-style XML error body; then pass-through. */
  | { kind: 'errors'; count: number; status?: number }
  /**
   * The next `count` requests (all while set, by default) have their connection destroyed: `before`
   * the server sees them, or `after` it answered (the answer is lost, the effect is not).
   */
  | { kind: 'reset'; count?: number; when?: 'before' | 'after' }
  /** Requests are accepted and never answered (their body is read and dropped). */
  | { kind: 'blackhole' };

/** Which requests a fault applies to (the others pass through): e.g. only writes. */
export type RequestFilter = (request: { method: string; path: string }) => boolean;

export interface FaultStats {
  /** Requests received. */
  requests: number;
  /** Requests answered by upstream and passed back. */
  forwarded: number;
  /** Requests a fault hit: answered 5xx, reset, or held in the black hole. */
  faulted: number;
  byKind: Record<FaultMode['kind'], number>;
}

export interface FaultProxy {
  /** http://127.0.0.1:<port>: use it as MLOPS_S3_ENDPOINT. */
  readonly endpoint: string;
  /** Switches the fault for requests from now on (and ends the black hole's held requests when leaving it: their sockets are destroyed). */
  set(mode: FaultMode, filter?: RequestFilter): void;
  readonly mode: FaultMode;
  stats(): FaultStats;
  resetStats(): void;
  close(): Promise<void>;
}

const HOP_HEADERS = ['connection', 'keep-alive', 'proxy-connection', 'upgrade', 'transfer-encoding'];

function withoutHopHeaders(headers: IncomingHttpHeaders): IncomingHttpHeaders {
  const out: IncomingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) if (!HOP_HEADERS.includes(name)) out[name] = value;
  return out;
}

/** The body S3 sends with a 503 (SlowDown) or another 5xx. */
export function s3ErrorXml(status: number): string {
  const code = status === 503 ? 'SlowDown' : 'InternalError';
  const message = status === 503 ? 'Please reduce your request rate.' : 'We encountered an internal error. Please try again.';
  return `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message><RequestId>FAULT</RequestId></Error>`;
}

export async function startFaultProxy(upstreamEndpoint: string): Promise<FaultProxy> {
  const upstream = new URL(upstreamEndpoint);
  const agent = new Agent({ keepAlive: true });
  let mode: FaultMode = { kind: 'pass' };
  let filter: RequestFilter = () => true;
  /** How many requests the current counted mode (errors, reset with count) has still to hit. */
  let left = Infinity;
  const empty = (): FaultStats => ({
    requests: 0,
    forwarded: 0,
    faulted: 0,
    byKind: { pass: 0, latency: 0, errors: 0, reset: 0, blackhole: 0 },
  });
  let stats = empty();
  const held = new Set<Socket>();
  const sockets = new Set<Socket>();

  const forward = (req: IncomingMessage, res: ServerResponse, after?: () => void) => {
    const up = request(
      {
        host: upstream.hostname,
        port: Number(upstream.port),
        method: req.method,
        path: req.url,
        headers: withoutHopHeaders(req.headers),
        agent,
      },
      (upRes) => {
        if (after) {
          // The server has acted on the request; its answer never reaches the client.
          upRes.resume();
          upRes.once('end', after);
          return;
        }
        stats.forwarded++;
        res.writeHead(upRes.statusCode ?? 502, withoutHopHeaders(upRes.headers));
        upRes.pipe(res);
      },
    );
    up.on('error', (err) => {
      if (res.destroyed) return;
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
      res.end(`fault proxy: upstream failed: ${err.message}`);
    });
    req.pipe(up);
  };

  const server = createServer((req, res) => {
    stats.requests++;
    const current = mode;
    const applies = current.kind !== 'pass' && left > 0 && filter({ method: req.method ?? 'GET', path: req.url ?? '/' });
    if (!applies) return forward(req, res);
    if (current.kind === 'errors' || (current.kind === 'reset' && current.count !== undefined)) left--;
    stats.byKind[current.kind]++;
    switch (current.kind) {
      case 'latency': {
        const timer = setTimeout(() => forward(req, res), current.ms);
        res.once('close', () => clearTimeout(timer));
        return;
      }
      case 'errors': {
        stats.faulted++;
        const status = current.status ?? 503;
        req.resume();
        req.once('end', () => {
          res.writeHead(status, { 'content-type': 'application/xml', ...(status === 503 && { 'retry-after': '0' }) });
          res.end(s3ErrorXml(status));
        });
        return;
      }
      case 'reset': {
        stats.faulted++;
        if (current.when === 'after') return forward(req, res, () => req.socket.destroy());
        req.socket.destroy();
        return;
      }
      case 'blackhole': {
        stats.faulted++;
        req.resume();
        held.add(req.socket);
        req.socket.once('close', () => held.delete(req.socket));
        return;
      }
    }
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  return {
    endpoint: `http://127.0.0.1:${port}`,
    get mode() {
      return mode;
    },
    set(next, only = () => true) {
      if (mode.kind === 'blackhole' && next.kind !== 'blackhole') for (const socket of held) socket.destroy();
      mode = next;
      filter = only;
      left = next.kind === 'errors' ? next.count : next.kind === 'reset' && next.count !== undefined ? next.count : Infinity;
    },
    stats: () => structuredClone(stats),
    resetStats() {
      stats = empty();
    },
    close: async () => {
      for (const socket of sockets) socket.destroy();
      agent.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
