// Test helper: a local server speaking the part of the GCS JSON API that GcsStore's SDK calls use.
//
// This is a protocol-level test double, NOT Google's emulator. No GCS emulator can be installed
// here: fake-gcs-server is a Go binary and Google's storage-testbench a Python package (neither is
// on npm or in Debian), the Firebase Storage emulator (firebase-tools) downloads its jar from
// Google at first start, which this machine cannot reach, and gcloud ships emulators for
// Bigtable, Datastore, Firestore, Pub/Sub and Spanner but not for Storage.
// So the store is tested through the real @google-cloud/storage SDK, pointed here by
// STORAGE_EMULATOR_HOST as it would be at an emulator, against this server.
//
// Implemented (paths with or without the /storage/v1 prefix, as the SDK sends both):
//   POST   /upload/storage/v1/b/:bucket/o?uploadType=media|multipart&name=…   insert
//   GET    /b/:bucket/o/:object            metadata       (?alt=media: the bytes, with x-goog-hash)
//   GET    /b/:bucket/o?prefix&maxResults&pageToken        list, in name order
//   DELETE /b/:bucket/o/:object
// with ?generation= on reads and ?ifGenerationMatch= on writes and deletes (412 with GCS's JSON
// error body), generations that only grow, and md5Hash/crc32c so the SDK's integrity checks run.
// Each request's check-and-commit runs in one synchronous step after its body has arrived, so
// writes to a key are serialised as GCS serialises them. Not implemented (answered 501):
// resumable uploads, metadata updates, copies, buckets' own API, authentication.
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CRC32C, Storage, type StorageOptions } from '@google-cloud/storage';
import { gcsStorageOptionsFromEnv, GcsStore } from './gcs-store.ts';

interface StoredObject {
  data: Buffer;
  generation: number;
  contentType: string;
  created: Date;
  md5: string;
  crc32c: string;
}

export interface LocalGcs {
  /** What STORAGE_EMULATOR_HOST is set to, e.g. http://127.0.0.1:40123. */
  readonly endpoint: string;
  readonly bucket: string;
  /** Environment for openStore: STORAGE_EMULATOR_HOST. */
  readonly env: Record<string, string>;
  /** Requests received, as "METHOD path?query", for tests of what the SDK sends. */
  readonly requests: string[];
  /** A client on this server without retries, so a broken test fails fast. */
  client(overrides?: StorageOptions): Storage;
  /** A store on a fresh client (as another process would have) under `prefix` in the bucket. */
  store(prefix?: string, options?: { listPageSize?: number }): GcsStore;
  stop(): Promise<void>;
}

/** Client settings for tests: openStore's for an emulator at `endpoint`, without retries. */
export function testGcsStorageOptions(endpoint: string): StorageOptions {
  return {
    ...gcsStorageOptionsFromEnv({ STORAGE_EMULATOR_HOST: endpoint }),
    retryOptions: { autoRetry: false, maxRetries: 0 },
    timeout: 10_000,
  };
}

export async function startLocalGcs(bucket = 'test-bucket'): Promise<LocalGcs> {
  const objects = new Map<string, StoredObject>();
  const requests: string[] = [];
  // Microseconds since the epoch, as GCS's generations are; +1 per write keeps them unique.
  let lastGeneration = Date.now() * 1000;

  const server = createServer((req, res) => {
    requests.push(`${req.method ?? ''} ${req.url ?? ''}`);
    handle(req, res).catch((err: unknown) => sendError(res, 500, 'backendError', (err as Error).message));
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const path = url.pathname.replace(/^\/storage\/v1(?=\/)/, '');
    const query = url.searchParams;
    const route = /^(\/upload\/storage\/v1)?\/b\/([^/]+)\/o(?:\/(.+))?$/.exec(path);
    if (!route) return sendError(res, 501, 'notImplemented', `${req.method} ${url.pathname} is not implemented by the local GCS`);
    const [, upload, bucketName = '', encodedName] = route;
    if (decodeURIComponent(bucketName) !== bucket) return sendError(res, 404, 'notFound', 'The specified bucket does not exist.');
    const name = encodedName === undefined ? undefined : decodeURIComponent(encodedName);

    if (upload !== undefined && req.method === 'POST' && name === undefined) return insert(req, res, query);
    if (upload === undefined && req.method === 'GET' && name === undefined) return list(res, query);
    if (upload === undefined && name !== undefined && (req.method === 'GET' || req.method === 'DELETE')) {
      const object = objects.get(name);
      const wanted = query.get('generation');
      if (object === undefined || (wanted !== null && Number(wanted) !== object.generation)) {
        return sendError(res, 404, 'notFound', `No such object: ${bucket}/${name}`);
      }
      if (req.method === 'DELETE') {
        if (!preconditionHolds(res, object, query)) return;
        objects.delete(name);
        res.writeHead(204).end();
        return;
      }
      if (query.get('alt') === 'media') {
        res.writeHead(200, {
          'content-type': object.contentType,
          'content-length': object.data.length,
          'x-goog-generation': String(object.generation),
          'x-goog-hash': `crc32c=${object.crc32c},md5=${object.md5}`,
          'x-goog-stored-content-encoding': 'identity',
          'last-modified': object.created.toUTCString(),
        });
        res.end(object.data);
        return;
      }
      return sendJson(res, 200, resource(name, object));
    }
    return sendError(res, 501, 'notImplemented', `${req.method} ${url.pathname} is not implemented by the local GCS`);
  }

  async function insert(req: IncomingMessage, res: ServerResponse, query: URLSearchParams): Promise<void> {
    const uploadType = query.get('uploadType');
    const raw = await readBody(req);
    let metadata: { name?: string; contentType?: string } = {};
    let data = raw;
    let contentType = req.headers['content-type'] ?? 'application/octet-stream';
    if (uploadType === 'multipart') {
      const parts = multipartParts(raw, contentType);
      const [meta, media] = parts;
      if (parts.length !== 2 || meta === undefined || media === undefined) {
        return sendError(res, 400, 'invalid', 'A multipart upload needs a metadata part and a media part');
      }
      metadata = JSON.parse(meta.body.toString('utf8')) as typeof metadata;
      data = media.body;
      contentType = metadata.contentType ?? media.contentType;
    } else if (uploadType !== 'media') {
      return sendError(res, 501, 'notImplemented', `uploadType=${uploadType ?? ''} is not implemented by the local GCS`);
    }
    const name = query.get('name') ?? metadata.name;
    if (!name) return sendError(res, 400, 'required', 'Required parameter: name');

    // From here to the end, nothing awaits: the check and the commit are one step.
    const current = objects.get(name);
    if (!preconditionHolds(res, current, query)) return;
    lastGeneration += 1;
    const crc32c = new CRC32C();
    crc32c.update(data);
    const object: StoredObject = {
      data,
      generation: lastGeneration,
      contentType,
      created: new Date(),
      md5: createHash('md5').update(data).digest('base64'),
      crc32c: crc32c.toString(),
    };
    objects.set(name, object);
    sendJson(res, 200, resource(name, object));
  }

  function list(res: ServerResponse, query: URLSearchParams): void {
    const prefix = query.get('prefix') ?? '';
    const maxResults = Math.min(Number(query.get('maxResults') ?? 1000) || 1000, 1000);
    const after = query.get('pageToken');
    const start = after === null ? '' : Buffer.from(after, 'base64url').toString('utf8');
    // GCS lists in UTF-8 byte order.
    const names = [...objects.keys()]
      .filter((name) => name.startsWith(prefix) && (after === null || Buffer.compare(Buffer.from(name), Buffer.from(start)) > 0))
      .sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
    const page = names.slice(0, maxResults);
    const last = page.at(-1);
    sendJson(res, 200, {
      kind: 'storage#objects',
      items: page.map((name) => resource(name, objects.get(name) as StoredObject)),
      ...(names.length > maxResults && last !== undefined && { nextPageToken: Buffer.from(last).toString('base64url') }),
    });
  }

  /** ifGenerationMatch as GCS applies it: 0 means "no live object", N means "live at generation N". */
  function preconditionHolds(res: ServerResponse, current: StoredObject | undefined, query: URLSearchParams): boolean {
    const expected = query.get('ifGenerationMatch');
    if (expected === null || Number(expected) === (current?.generation ?? 0)) return true;
    sendError(res, 412, 'conditionNotMet', 'At least one of the pre-conditions you specified did not hold.');
    return false;
  }

  function resource(name: string, object: StoredObject): Record<string, string> {
    const created = object.created.toISOString();
    return {
      kind: 'storage#object',
      id: `${bucket}/${name}/${object.generation}`,
      name,
      bucket,
      generation: String(object.generation),
      metageneration: '1',
      contentType: object.contentType,
      size: String(object.data.length),
      md5Hash: object.md5,
      crc32c: object.crc32c,
      timeCreated: created,
      updated: created,
      etag: Buffer.from(String(object.generation)).toString('base64'),
    };
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const client = (overrides: StorageOptions = {}) => new Storage({ ...testGcsStorageOptions(endpoint), ...overrides });

  return {
    endpoint,
    bucket,
    env: { STORAGE_EMULATOR_HOST: endpoint },
    requests,
    client,
    store: (prefix = '', options = {}) => new GcsStore(client(), { bucket, prefix }, options),
    stop: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** The parts of a multipart/related body (RFC 2387), as the SDK sends a multipart upload. */
function multipartParts(body: Buffer, contentType: string): { contentType: string; body: Buffer }[] {
  const boundary = /boundary="?([^";]+)"?/i.exec(contentType)?.[1];
  if (boundary === undefined) return [];
  const delimiter = Buffer.from(`\r\n--${boundary}`);
  // The first delimiter has no CRLF before it.
  const text = Buffer.concat([Buffer.from('\r\n'), body]);
  const parts: { contentType: string; body: Buffer }[] = [];
  let at = text.indexOf(delimiter);
  while (at !== -1) {
    const start = at + delimiter.length;
    if (text.subarray(start, start + 2).toString() === '--') break;
    const next = text.indexOf(delimiter, start);
    if (next === -1) break;
    const part = text.subarray(start + 2, next);
    const split = part.indexOf('\r\n\r\n');
    const headers = part.subarray(0, split).toString('utf8');
    parts.push({
      contentType: /^content-type:\s*(.+)$/im.exec(headers)?.[1]?.trim() ?? 'application/octet-stream',
      body: part.subarray(split + 4),
    });
    at = next;
  }
  return parts;
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=UTF-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** GCS's JSON error body, which the SDK turns into an ApiError with `code` and `errors`. */
function sendError(res: ServerResponse, status: number, reason: string, message: string): void {
  sendJson(res, status, { error: { code: status, message, errors: [{ domain: 'global', reason, message }] } });
}
