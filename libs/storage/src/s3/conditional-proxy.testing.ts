// Test helper. s3rver 3.7.1 (2021) predates S3 conditional writes (August 2024): its PutObject
// ignores If-None-Match and If-Match and overwrites in place, and it writes the object file before
// its .md5 (the ETag) without any locking, so a concurrent reader can see a half-written object.
// This proxy sits in front of it on 127.0.0.1 and adds what AWS guarantees, at the HTTP level:
//  - a PUT with If-None-Match: * or If-Match: <etag> is checked against the current object's ETag
//    (a HEAD to s3rver) and refused as S3 does — 412 PreconditionFailed, or 404 NoSuchKey for
//    If-Match on a missing key — with S3's XML error body; otherwise it is forwarded unchanged;
//  - requests on one key run one at a time (the check and the write are one atomic step, and
//    reads never see a partial write), and a bucket listing never overlaps a write or delete;
//  - a PUT holds its key until s3rver's object file matches the ETag it recorded: s3rver answers
//    the PUT (and writes the ETag) before its write stream has flushed the object, so the next
//    GET could pair the old body with the new ETag, and a client's If-Match on it would pass.
// Everything else is forwarded byte for byte, so the SDK's SigV4 signatures stay valid.
import { createHash } from 'node:crypto';
import { Agent, createServer, request, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomHex } from '../random-hex.ts';

export interface ConditionalProxy {
  /** http://127.0.0.1:<port> */
  readonly endpoint: string;
  close(): Promise<void>;
}

interface Upstream {
  host: string;
  port: number;
}

/** Headers that belong to one hop, or that the proxy itself handles (Node answers 100-continue). */
const HOP_HEADERS = ['connection', 'keep-alive', 'expect', 'proxy-connection', 'upgrade'];

export async function startConditionalProxy(upstream: Upstream): Promise<ConditionalProxy> {
  const agent = new Agent({ keepAlive: true });
  const keyLocks = new KeyedMutex();
  const bucketLocks = new Map<string, SharedExclusiveLock>();
  const bucketLock = (bucket: string) => {
    let lock = bucketLocks.get(bucket);
    if (!lock) bucketLocks.set(bucket, (lock = new SharedExclusiveLock()));
    return lock;
  };

  /** Resolves with upstream's status once the response is sent. */
  const forward = (req: IncomingMessage, res: ServerResponse): Promise<number> =>
    new Promise((resolve) => {
      let status = 502;
      res.on('close', () => resolve(status));
      const up = request(
        { host: upstream.host, port: upstream.port, method: req.method, path: req.url, headers: withoutHopHeaders(req.headers), agent },
        (upRes) => {
          status = upRes.statusCode ?? 502;
          res.writeHead(status, withoutHopHeaders(upRes.headers));
          upRes.pipe(res);
        },
      );
      up.on('error', (err) => {
        if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
        res.end(`conditional proxy: upstream failed: ${err.message}`);
      });
      req.pipe(up);
    });

  /** ETag of the object at `path` (as the client sent it, still URI-encoded), or undefined if absent. */
  const currentEtag = (path: string): Promise<string | undefined> =>
    new Promise((resolve, reject) => {
      const head = request({ host: upstream.host, port: upstream.port, method: 'HEAD', path, agent }, (res) => {
        res.resume();
        if (res.statusCode === 404) resolve(undefined);
        else if (res.statusCode === 200) resolve(String(res.headers.etag ?? ''));
        else reject(new Error(`HEAD ${path} answered ${res.statusCode}`));
      });
      head.on('error', reject);
      head.end();
    });

  /** Whether a GET of `path` returns a body whose MD5 is the ETag it is served with (a single-part object settled on disk). */
  const consistent = (path: string): Promise<boolean> =>
    new Promise((resolve, reject) => {
      const get = request({ host: upstream.host, port: upstream.port, method: 'GET', path, agent }, (res) => {
        const md5 = createHash('md5');
        res.on('data', (chunk: Buffer) => md5.update(chunk));
        res.on('end', () => resolve(res.statusCode !== 200 || md5.digest('hex') === unquoted(String(res.headers.etag ?? ''))));
        res.on('error', reject);
      });
      get.on('error', reject);
      get.end();
    });

  /** Waits (a few ms at most, in practice) until s3rver has flushed the object a PUT answered for. */
  const settle = async (path: string): Promise<void> => {
    for (let attempt = 0; attempt < 500 && !(await consistent(path)); attempt++) await new Promise((r) => setTimeout(r, 2));
  };

  /** The S3 error a conditional PUT gets, or undefined if it may go ahead. */
  const refusalOf = async (req: IncomingMessage, path: string, key: string): Promise<S3ErrorReply | undefined> => {
    const ifNoneMatch = single(req.headers['if-none-match']);
    const ifMatch = single(req.headers['if-match']);
    if (ifNoneMatch === undefined && ifMatch === undefined) return undefined;
    if (ifNoneMatch !== undefined && ifNoneMatch.trim() !== '*') {
      return {
        status: 501,
        code: 'NotImplemented',
        message: 'A header you provided implies functionality that is not implemented',
        detail: { Header: 'If-None-Match' },
      };
    }
    const current = await currentEtag(path);
    if (ifNoneMatch !== undefined && current !== undefined) return preconditionFailed('If-None-Match');
    if (ifMatch !== undefined) {
      if (current === undefined)
        return { status: 404, code: 'NoSuchKey', message: 'The specified key does not exist.', detail: { Key: key } };
      const wanted = ifMatch.split(',').map((tag) => unquoted(tag.trim()));
      if (!wanted.includes('*') && !wanted.includes(unquoted(current))) return preconditionFailed('If-Match');
    }
    return undefined;
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = new URL(req.url ?? '/', 'http://proxy').pathname;
    // Path-style addressing: /<bucket>/<key>.
    const [, bucket = '', ...keyParts] = path.split('/');
    const key = keyParts.join('/');
    if (bucket === '') return void (await forward(req, res));
    if (key === '') {
      // Bucket-level request (a listing, CreateBucket…): no write or delete in flight meanwhile.
      return void (await (req.method === 'GET' ? bucketLock(bucket).exclusive(() => forward(req, res)) : forward(req, res)));
    }
    const objectRequest = async () => {
      if (req.method !== 'PUT') return void (await forward(req, res));
      const refusal = await refusalOf(req, path, decodeURIComponent(key));
      if (refusal) return reply(req, res, refusal);
      const status = await forward(req, res);
      // A multipart part (?uploadId=…) is no object yet.
      const part = new URL(req.url ?? '/', 'http://proxy').searchParams.has('uploadId');
      if (status >= 200 && status < 300 && !part) await settle(path);
    };
    const locked = () => keyLocks.run(`${bucket}/${key}`, objectRequest);
    return req.method === 'PUT' || req.method === 'DELETE' ? bucketLock(bucket).shared(locked) : locked();
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
      res.end(`conditional proxy: ${(err as Error).message}`);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as AddressInfo;

  return {
    endpoint: `http://127.0.0.1:${port}`,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      agent.destroy();
    },
  };
}

interface S3ErrorReply {
  status: number;
  code: string;
  message: string;
  detail: Record<string, string>;
}

function preconditionFailed(condition: string): S3ErrorReply {
  return {
    status: 412,
    code: 'PreconditionFailed',
    message: 'At least one of the pre-conditions you specified did not hold',
    detail: { Condition: condition },
  };
}

/** Answers as S3 does (XML body, x-amz-request-id), after reading and dropping the request body. */
async function reply(req: IncomingMessage, res: ServerResponse, error: S3ErrorReply): Promise<void> {
  req.resume();
  if (!req.readableEnded) await new Promise((resolve) => req.once('end', resolve).once('close', resolve));
  const requestId = randomHex(8).toUpperCase();
  const fields = { Code: error.code, Message: error.message, ...error.detail, RequestId: requestId, HostId: requestId };
  const body = `<?xml version="1.0" encoding="UTF-8"?>\n<Error>${Object.entries(fields)
    .map(([name, value]) => `<${name}>${escapeXml(value)}</${name}>`)
    .join('')}</Error>`;
  res.writeHead(error.status, {
    'content-type': 'application/xml',
    'content-length': Buffer.byteLength(body),
    'x-amz-request-id': requestId,
  });
  await new Promise<void>((resolve) => res.end(body, resolve));
}

function withoutHopHeaders(headers: IncomingHttpHeaders): IncomingHttpHeaders {
  const copy = { ...headers };
  for (const name of HOP_HEADERS) delete copy[name];
  return copy;
}

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(',') : value;
}

function unquoted(etag: string): string {
  return etag.replace(/^(W\/)?"|"$/g, '');
}

function escapeXml(text: string): string {
  return text.replace(/[<>&'"]/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** Runs the tasks for one key one at a time, in arrival order. */
class KeyedMutex {
  private readonly tails = new Map<string, Promise<void>>();

  async run<T>(key: string, task: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    let release = () => {};
    const done = new Promise<void>((resolve) => (release = resolve));
    const tail = previous.then(() => done);
    this.tails.set(key, tail);
    await previous;
    try {
      return await task();
    } finally {
      release();
      if (this.tails.get(key) === tail) this.tails.delete(key);
    }
  }
}

/** Many shared holders or one exclusive holder, first come first served. */
class SharedExclusiveLock {
  private holders = 0;
  private heldExclusively = false;
  private readonly waiting: { exclusive: boolean; start: () => void }[] = [];

  shared<T>(task: () => Promise<T>): Promise<T> {
    return this.with(false, task);
  }

  exclusive<T>(task: () => Promise<T>): Promise<T> {
    return this.with(true, task);
  }

  private async with<T>(exclusive: boolean, task: () => Promise<T>): Promise<T> {
    if (this.waiting.length === 0 && this.canStart(exclusive)) this.start(exclusive);
    else await new Promise<void>((resolve) => this.waiting.push({ exclusive, start: resolve }));
    try {
      return await task();
    } finally {
      this.holders--;
      if (exclusive) this.heldExclusively = false;
      for (let next = this.waiting[0]; next && this.canStart(next.exclusive); next = this.waiting[0]) {
        this.waiting.shift();
        this.start(next.exclusive);
        next.start();
      }
    }
  }

  private canStart(exclusive: boolean): boolean {
    return exclusive ? this.holders === 0 : !this.heldExclusively;
  }

  private start(exclusive: boolean): void {
    this.holders++;
    if (exclusive) this.heldExclusively = true;
  }
}
