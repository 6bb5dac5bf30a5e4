import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { simpleParser, type ParsedMail } from 'mailparser';
import { SMTPServer } from 'smtp-server';
import type { Alert } from './alert.ts';

/** Test helpers: a sample alert and small real servers on 127.0.0.1. */

export function sampleAlert(overrides: Partial<Alert> = {}): Alert {
  return {
    kind: 'drifting',
    severity: 'warning',
    model: 'sentiment',
    version: 'v3',
    title: 'Accuracy fell below the floor',
    reasons: ['Accuracy on the last 412 labelled predictions is 0.71, below the 0.80 floor.', 'Score PSI is 0.31 (> 0.2).'],
    facts: { accuracy: 0.71, n: 412 },
    time: '2025-03-01T12:00:00.000Z',
    ...overrides,
  };
}

export interface RecordedRequest {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}

export interface TestHttpServer {
  url: string;
  requests: RecordedRequest[];
  close(): Promise<void>;
}

/** Records every request; `respond` answers it (or never does, to play a hung server). */
export async function startHttpServer(respond: (request: RecordedRequest, response: ServerResponse) => void): Promise<TestHttpServer> {
  const requests: RecordedRequest[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const recorded = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') };
      requests.push(recorded);
      respond(recorded, res);
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: async () => {
      server.closeAllConnections(); // hung requests and keep-alive sockets too
      await new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve())));
    },
  };
}

/** A port nothing listens on: bound, then released. */
export async function closedPort(): Promise<number> {
  const server = createNetServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export interface ReceivedMail {
  /** The SMTP envelope, as the client gave it. */
  mailFrom: string;
  rcptTo: string[];
  /** Who logged in, if anyone, as user:pass. */
  login: string | undefined;
  parsed: ParsedMail;
}

export interface TestSmtpServer {
  port: number;
  received: ReceivedMail[];
  close(): Promise<void>;
}

/** A plain-text SMTP server (no TLS, login optional, any login accepted). */
export async function startSmtpServer(): Promise<TestSmtpServer> {
  const received: ReceivedMail[] = [];
  const logins = new Map<string, string>();
  const server = new SMTPServer({
    secure: false,
    disabledCommands: ['STARTTLS'],
    authOptional: true,
    allowInsecureAuth: true,
    logger: false,
    closeTimeout: 100,
    onAuth(auth, session, callback) {
      logins.set(session.id, `${auth.username}:${auth.password}`);
      callback(null, { user: auth.username });
    },
    onData(stream, session, callback) {
      simpleParser(stream).then(
        (parsed) => {
          const { mailFrom, rcptTo } = session.envelope;
          received.push({
            mailFrom: mailFrom ? mailFrom.address : '',
            rcptTo: rcptTo.map((rcpt) => rcpt.address),
            login: logins.get(session.id),
            parsed,
          });
          callback();
        },
        (error: Error) => callback(error),
      );
    },
  });
  const listening = server.listen(0, '127.0.0.1');
  await once(listening, 'listening');
  const { port } = listening.address() as AddressInfo;
  return { port, received, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}
