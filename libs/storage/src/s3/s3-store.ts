import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { pipeline } from 'node:stream/promises';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
  type GetObjectCommandOutput,
  type PutObjectCommandInput,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import { assertValidKey, assertValidPrefix, type BucketLocation, bucketStoreUri, isValidKey, parseS3Uri } from '../keys.ts';
import { randomHex } from '../random-hex.ts';
import { DEFAULT_STORE_TIMEOUTS, failWhenStalled, storeTimeoutsFromEnv, uploadTimeoutMs } from '../timeouts.ts';
import { NotFoundError, PreconditionFailedError, type ObjectInfo, type ObjectStore } from '../types.ts';

export type S3Location = BucketLocation;

/** What `openStore` returns for an s3:// URI (loaded on first use: the SDK takes long to import). */
export function openS3Store(uri: string, env: NodeJS.ProcessEnv): S3Store {
  const timeouts = storeTimeoutsFromEnv(env);
  return new S3Store(new S3Client(s3ClientConfigFromEnv(env)), parseS3Uri(uri), {
    stallTimeoutMs: timeouts.stallMs,
    responseTimeoutMs: timeouts.responseMs,
  });
}

/**
 * Client settings for `openStore`: region from AWS_REGION (else us-east-1), credentials from the
 * SDK's default chain. MLOPS_S3_ENDPOINT points at an S3-compatible server (MinIO, s3rver…).
 * MLOPS_STORE_RESPONSE_TIMEOUT_MS bounds the wait for a response's headers (`StoreTimeouts`).
 */
export function s3ClientConfigFromEnv(env: NodeJS.ProcessEnv = process.env): S3ClientConfig {
  const endpoint = env['MLOPS_S3_ENDPOINT'] || undefined;
  return {
    region: env['AWS_REGION'] || 'us-east-1',
    requestHandler: {
      // Without it an unreachable host waits for the OS's TCP timeout (minutes) on every attempt.
      connectionTimeout: 5_000,
      // The handler's requestTimeout ends at the response headers (a body is `stallTimeoutMs`'s), and
      // only throws with throwOnRequestTimeout (else it logs a warning). Its socketTimeout, an idle
      // timeout, is not used: it also fires while a slow reader of createReadStream holds the stream.
      requestTimeout: storeTimeoutsFromEnv(env).responseMs,
      throwOnRequestTimeout: true,
    },
    ...(endpoint !== undefined && {
      endpoint,
      // Such servers rarely resolve bucket subdomains, and many reject the SDK's default
      // aws-chunked upload encoding with trailing CRC checksums: send plain bodies instead.
      forcePathStyle: true,
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    }),
  };
}

/**
 * An object store under `s3://bucket/prefix`. The etag is the S3 ETag without its quotes;
 * conditional writes use S3's If-None-Match / If-Match on PutObject (AWS, since August 2024).
 */
export class S3Store implements ObjectStore {
  readonly uri: string;
  readonly bucket: string;
  readonly prefix: string;

  private readonly listPageSize: number | undefined;
  private readonly stallTimeoutMs: number;
  private readonly responseTimeoutMs: number;

  constructor(
    private readonly client: S3Client,
    location: S3Location,
    /**
     * listPageSize: keys per ListObjectsV2 page (S3's default and maximum is 1000). stallTimeoutMs:
     * how long a response body may send nothing while it is read (`StoreTimeouts.stallMs`; 0: none).
     * responseTimeoutMs: the client's response timeout, which bounds uploads too (`uploadTimeoutMs`).
     */
    options: { listPageSize?: number; stallTimeoutMs?: number; responseTimeoutMs?: number } = {},
  ) {
    this.listPageSize = options.listPageSize;
    this.stallTimeoutMs = options.stallTimeoutMs ?? DEFAULT_STORE_TIMEOUTS.stallMs;
    this.responseTimeoutMs = options.responseTimeoutMs ?? DEFAULT_STORE_TIMEOUTS.responseMs;
    this.bucket = location.bucket;
    this.prefix = location.prefix;
    this.uri = bucketStoreUri('s3', location);
  }

  async get(key: string): Promise<{ body: Buffer; info: ObjectInfo }> {
    const out = await this.getObject('get', key);
    const stream = this.readBody(out, key);
    try {
      return { body: await buffer(stream), info: this.infoOf(key, out) };
    } catch (err) {
      stream.destroy();
      throw this.failure('get', this.objectKey(key), err);
    }
  }

  async head(key: string): Promise<ObjectInfo | undefined> {
    const objectKey = this.objectKey(key);
    try {
      const out = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: objectKey }));
      return this.infoOf(key, out);
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw this.failure('head', objectKey, err);
    }
  }

  async put(key: string, body: Buffer | string): Promise<ObjectInfo> {
    const objectKey = this.objectKey(key);
    try {
      return await this.putBody(objectKey, key, body, {});
    } catch (err) {
      throw this.failure('put', objectKey, err);
    }
  }

  async putIfAbsent(key: string, body: Buffer | string): Promise<ObjectInfo> {
    const objectKey = this.objectKey(key);
    try {
      return await this.putBody(objectKey, key, body, { IfNoneMatch: '*' });
    } catch (err) {
      // 409 ConditionalRequestConflict: another conditional write to this key was in flight.
      if (isPreconditionFailed(err) || isConflict(err)) throw new PreconditionFailedError(key, this.uri, 'the object already exists');
      throw this.failure('putIfAbsent', objectKey, err);
    }
  }

  async putIfMatch(key: string, body: Buffer | string, etag: string): Promise<ObjectInfo> {
    const objectKey = this.objectKey(key);
    try {
      return await this.putBody(objectKey, key, body, { IfMatch: quoted(etag) });
    } catch (err) {
      // AWS answers 404 NoSuchKey when there is no object to match.
      if (isNotFound(err)) throw new PreconditionFailedError(key, this.uri, `expected etag ${etag} but the object does not exist`);
      if (!isPreconditionFailed(err) && !isConflict(err)) throw this.failure('putIfMatch', objectKey, err);
      // The failure alone does not say why; one more request makes the message as useful as file://'s.
      const current = await this.head(key).catch(() => undefined);
      const reason = current === undefined ? 'the object does not exist' : `its etag is ${current.etag}`;
      throw new PreconditionFailedError(key, this.uri, `expected etag ${etag} but ${reason}`);
    }
  }

  async list(prefix: string): Promise<ObjectInfo[]> {
    assertValidPrefix(prefix);
    const root = this.prefix === '' ? '' : `${this.prefix}/`;
    const infos: ObjectInfo[] = [];
    let token: string | undefined;
    do {
      const page = await this.client
        .send(
          new ListObjectsV2Command({
            Bucket: this.bucket,
            Prefix: `${root}${prefix}`,
            ContinuationToken: token,
            MaxKeys: this.listPageSize,
          }),
        )
        .catch((err: unknown) => {
          throw this.failure('list', `${root}${prefix}*`, err);
        });
      for (const object of page.Contents ?? []) {
        const key = object.Key?.slice(root.length);
        // Skips what no store key can name, e.g. the empty "folder/" objects consoles create.
        if (key === undefined || !isValidKey(key)) continue;
        infos.push({ key, size: object.Size ?? 0, etag: unquoted(object.ETag), updated: object.LastModified ?? new Date(0) });
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token !== undefined);
    // S3 orders by UTF-8 bytes; sort as the file store does (UTF-16 code units).
    return infos.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  async delete(key: string): Promise<void> {
    const objectKey = this.objectKey(key);
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: objectKey }));
    } catch (err) {
      if (isNotFound(err)) return;
      throw this.failure('delete', objectKey, err);
    }
  }

  async createReadStream(key: string): Promise<NodeJS.ReadableStream> {
    return this.readBody(await this.getObject('createReadStream', key), key);
  }

  /** One streamed PutObject (so up to S3's 5 GB single-upload limit); S3 makes it atomic. */
  async uploadFile(key: string, localPath: string): Promise<ObjectInfo> {
    const objectKey = this.objectKey(key);
    const { size } = await stat(localPath);
    try {
      // The answer comes once the whole file is sent: the bound grows with the file's size.
      const timeout = uploadTimeoutMs({ responseMs: this.responseTimeoutMs }, size);
      return await this.putBody(objectKey, key, createReadStream(localPath), { ContentLength: size }, size, timeout);
    } catch (err) {
      throw this.failure(`uploadFile from ${localPath}`, objectKey, err);
    }
  }

  async downloadFile(key: string, localPath: string): Promise<ObjectInfo> {
    const objectKey = this.objectKey(key);
    const out = await this.getObject('downloadFile', key);
    const body = this.readBody(out, key);
    const tmp = `${localPath}.${randomHex(6)}.tmp`;
    try {
      await mkdir(dirname(localPath), { recursive: true });
      await pipeline(body, createWriteStream(tmp, { flags: 'wx' }));
      await rename(tmp, localPath);
      return this.infoOf(key, out);
    } catch (err) {
      body.destroy();
      throw this.failure(`downloadFile to ${localPath}`, objectKey, err);
    } finally {
      await rm(tmp, { force: true });
    }
  }

  private objectKey(key: string): string {
    assertValidKey(key);
    return this.prefix === '' ? key : `${this.prefix}/${key}`;
  }

  private async getObject(operation: string, key: string): Promise<GetObjectCommandOutput> {
    const objectKey = this.objectKey(key);
    try {
      return await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: objectKey }));
    } catch (err) {
      if (isNotFound(err)) throw new NotFoundError(key, this.uri);
      throw this.failure(operation, objectKey, err);
    }
  }

  /** The body, failing when it stalls (`stallTimeoutMs`). */
  private readBody(out: GetObjectCommandOutput, key: string): Readable {
    const body = out.Body;
    if (!(body instanceof Readable)) throw new Error(`S3 returned no readable body for ${this.uri}/${key}`);
    return failWhenStalled(body, this.stallTimeoutMs);
  }

  /** Throws the SDK's error as is: each caller decides what it means. */
  private async putBody(
    objectKey: string,
    key: string,
    body: Buffer | string | Readable,
    extra: Partial<PutObjectCommandInput>,
    size = typeof body === 'string' ? Buffer.byteLength(body) : body instanceof Buffer ? body.length : 0,
    /** Overrides the client's requestTimeout (0: none). */
    requestTimeout?: number,
  ): Promise<ObjectInfo> {
    const command = new PutObjectCommand({ Bucket: this.bucket, Key: objectKey, Body: body, ...extra });
    const out = await this.client.send(command, requestTimeout === undefined ? {} : { requestTimeout });
    // PutObject does not return Last-Modified; the client's clock is within the request's duration of it.
    return { key, size, etag: unquoted(out.ETag), updated: new Date() };
  }

  private infoOf(key: string, out: { ContentLength?: number; ETag?: string; LastModified?: Date }): ObjectInfo {
    return { key, size: out.ContentLength ?? 0, etag: unquoted(out.ETag), updated: out.LastModified ?? new Date(0) };
  }

  /** An error naming the operation and object, keeping the SDK's as `cause`. */
  private failure(operation: string, objectKey: string, err: unknown): Error {
    return new Error(`S3 ${operation} of s3://${this.bucket}/${objectKey} failed: ${describeError(err)}`, { cause: err });
  }
}

function unquoted(etag: string | undefined): string {
  return (etag ?? '').replace(/^(W\/)?"|"$/g, '');
}

function quoted(etag: string): string {
  return `"${unquoted(etag)}"`;
}

function statusOf(err: unknown): number | undefined {
  return err instanceof S3ServiceException ? err.$metadata.httpStatusCode : undefined;
}

function isNotFound(err: unknown): boolean {
  return (
    err instanceof S3ServiceException &&
    (err.name === 'NoSuchKey' || err.name === 'NotFound' || statusOf(err) === 404) &&
    err.name !== 'NoSuchBucket'
  );
}

function isPreconditionFailed(err: unknown): boolean {
  return statusOf(err) === 412;
}

function isConflict(err: unknown): boolean {
  return statusOf(err) === 409 && (err as S3ServiceException).name === 'ConditionalRequestConflict';
}

/** SDK errors for network failures can have an empty message (e.g. Node's AggregateError on ECONNREFUSED). */
function describeError(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const code = (err as NodeJS.ErrnoException).code;
  const status = statusOf(err);
  const inner = err instanceof AggregateError ? err.errors.map((e: unknown) => describeError(e)).join('; ') : '';
  const parts = [
    err.name !== 'Error' ? err.name : '',
    status !== undefined ? `HTTP ${status}` : '',
    code ?? '',
    err.message || inner,
  ].filter((part, i, all) => part !== '' && all.indexOf(part) === i);
  return parts.join(': ') || 'unknown error';
}
