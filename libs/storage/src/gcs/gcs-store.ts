import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { buffer } from 'node:stream/consumers';
import { pipeline } from 'node:stream/promises';
import { ApiError, Storage, type File, type FileMetadata, type StorageOptions } from '@google-cloud/storage';
import { assertValidKey, assertValidPrefix, type BucketLocation, bucketStoreUri, isValidKey, parseGcsUri } from '../keys.ts';
import { randomHex } from '../random-hex.ts';
import { DEFAULT_STORE_TIMEOUTS, failWhenStalled, storeTimeoutsFromEnv } from '../timeouts.ts';
import { NotFoundError, PreconditionFailedError, type ObjectInfo, type ObjectStore } from '../types.ts';

/** Reads of a pinned generation that lose a race with a writer start over this many times. */
const READ_ATTEMPTS = 3;

export type GcsLocation = BucketLocation;

/** What `openStore` returns for a gs:// URI (loaded on first use: the SDK takes long to import). */
export function openGcsStore(uri: string, env: NodeJS.ProcessEnv): GcsStore {
  return new GcsStore(new Storage(gcsStorageOptionsFromEnv(env)), parseGcsUri(uri), { stallTimeoutMs: storeTimeoutsFromEnv(env).stallMs });
}

/**
 * Client settings for `openStore`: credentials and project from the SDK's default chain (ADC).
 * STORAGE_EMULATOR_HOST (e.g. http://127.0.0.1:4443) points at a local server speaking the GCS
 * JSON API. The SDK reads that variable from process.env by itself; passing it on as apiEndpoint
 * makes the `env` given to openStore count too. With either, the SDK sends no credentials.
 * MLOPS_STORE_RESPONSE_TIMEOUT_MS bounds the wait for a response's headers (`StoreTimeouts`).
 */
export function gcsStorageOptionsFromEnv(env: NodeJS.ProcessEnv = process.env): StorageOptions {
  const emulator = env['STORAGE_EMULATOR_HOST'] || undefined;
  return {
    // By default the SDK retries idempotent requests (reads, conditional writes) on 5xx, 429 and
    // connection errors 3 times over up to 600 s: ~15 s when nothing listens. Two retries: ~7 s.
    retryOptions: { maxRetries: 2, totalTimeout: 60 },
    // Per request, until the response headers (node-fetch's `timeout`: a body streamed from them is
    // not bounded, see `stallTimeoutMs`). Unset, the SDK sends none. Uploads take their own, unset.
    timeout: storeTimeoutsFromEnv(env).responseMs,
    ...(emulator !== undefined && { apiEndpoint: emulator }),
  };
}

/**
 * An object store under `gs://bucket/prefix`. The etag is the object's generation (a decimal
 * string); conditional writes use GCS's ifGenerationMatch precondition (0 = must not exist).
 */
export class GcsStore implements ObjectStore {
  readonly uri: string;
  readonly bucket: string;
  readonly prefix: string;

  private readonly listPageSize: number | undefined;
  private readonly stallTimeoutMs: number;

  constructor(
    private readonly storage: Storage,
    location: GcsLocation,
    /**
     * listPageSize: objects per list page (GCS's default and maximum is 1000). stallTimeoutMs: how
     * long a download may send nothing while it is read (`StoreTimeouts.stallMs`; 0: none); the SDK
     * has no such timeout of its own.
     */
    options: { listPageSize?: number; stallTimeoutMs?: number } = {},
  ) {
    this.listPageSize = options.listPageSize;
    this.stallTimeoutMs = options.stallTimeoutMs ?? DEFAULT_STORE_TIMEOUTS.stallMs;
    this.bucket = location.bucket;
    this.prefix = location.prefix;
    this.uri = bucketStoreUri('gs', location);
  }

  get(key: string): Promise<{ body: Buffer; info: ObjectInfo }> {
    return this.readPinned('get', key, async (file, info) => ({ body: await buffer(this.readStream(file)), info }));
  }

  async head(key: string): Promise<ObjectInfo | undefined> {
    const objectKey = this.objectKey(key);
    try {
      const [metadata] = await this.file(objectKey).getMetadata();
      return this.infoOf(key, metadata);
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw this.failure('head', objectKey, err);
    }
  }

  async put(key: string, body: Buffer | string): Promise<ObjectInfo> {
    const objectKey = this.objectKey(key);
    try {
      return await this.save(objectKey, key, body, undefined);
    } catch (err) {
      throw this.failure('put', objectKey, err);
    }
  }

  async putIfAbsent(key: string, body: Buffer | string): Promise<ObjectInfo> {
    const objectKey = this.objectKey(key);
    try {
      return await this.save(objectKey, key, body, 0);
    } catch (err) {
      if (isPreconditionFailed(err)) throw new PreconditionFailedError(key, this.uri, 'the object already exists');
      throw this.failure('putIfAbsent', objectKey, err);
    }
  }

  async putIfMatch(key: string, body: Buffer | string, etag: string): Promise<ObjectInfo> {
    const objectKey = this.objectKey(key);
    // Not a generation (e.g. a file:// sha256): no object here can match it. "0" would mean "absent".
    const generation = /^[1-9][0-9]*$/.test(etag) ? Number(etag) : undefined;
    try {
      if (generation !== undefined) return await this.save(objectKey, key, body, generation);
    } catch (err) {
      if (!isPreconditionFailed(err)) throw this.failure('putIfMatch', objectKey, err);
    }
    // GCS answers 412 whether the object is absent or newer; one more request says which.
    const current = await this.head(key).catch(() => undefined);
    const reason = current === undefined ? 'the object does not exist' : `its etag is ${current.etag}`;
    throw new PreconditionFailedError(key, this.uri, `expected etag ${etag} but ${reason}`);
  }

  async list(prefix: string): Promise<ObjectInfo[]> {
    assertValidPrefix(prefix);
    const root = this.prefix === '' ? '' : `${this.prefix}/`;
    const infos: ObjectInfo[] = [];
    let pageToken: string | undefined;
    do {
      const [files, next] = await this.storage
        .bucket(this.bucket)
        .getFiles({ prefix: `${root}${prefix}`, autoPaginate: false, maxResults: this.listPageSize, pageToken })
        .catch((err: unknown) => {
          throw this.failure('list', `${root}${prefix}*`, err);
        });
      for (const file of files) {
        const key = file.name.slice(root.length);
        // Skips what no store key can name, e.g. the empty "folder/" objects consoles create.
        if (!file.name.startsWith(root) || !isValidKey(key)) continue;
        infos.push(this.infoOf(key, file.metadata));
      }
      // Typed as an object, but null after the last page.
      pageToken = (next as { pageToken?: string } | null)?.pageToken;
    } while (pageToken !== undefined);
    // GCS orders by UTF-8 bytes; sort as the file store does (UTF-16 code units).
    return infos.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  async delete(key: string): Promise<void> {
    const objectKey = this.objectKey(key);
    try {
      await this.file(objectKey).delete();
    } catch (err) {
      if (isNotFound(err)) return;
      throw this.failure('delete', objectKey, err);
    }
  }

  /** The object as it is when the stream starts (not pinned: a replacement is not an error). */
  async createReadStream(key: string): Promise<NodeJS.ReadableStream> {
    const objectKey = this.objectKey(key);
    if ((await this.head(key)) === undefined) throw new NotFoundError(key, this.uri);
    return this.readStream(this.file(objectKey));
  }

  /** One streamed single-request upload; GCS makes it atomic. */
  async uploadFile(key: string, localPath: string): Promise<ObjectInfo> {
    const objectKey = this.objectKey(key);
    const file = this.file(objectKey);
    try {
      await pipeline(createReadStream(localPath), file.createWriteStream({ resumable: false }));
      return this.infoOf(key, file.metadata);
    } catch (err) {
      throw this.failure(`uploadFile from ${localPath}`, objectKey, err);
    }
  }

  downloadFile(key: string, localPath: string): Promise<ObjectInfo> {
    return this.readPinned(`downloadFile to ${localPath}`, key, async (file, info) => {
      const tmp = `${localPath}.${randomHex(6)}.tmp`;
      try {
        await mkdir(dirname(localPath), { recursive: true });
        await pipeline(this.readStream(file), createWriteStream(tmp, { flags: 'wx' }));
        await rename(tmp, localPath);
        return info;
      } finally {
        await rm(tmp, { force: true });
      }
    });
  }

  private objectKey(key: string): string {
    assertValidKey(key);
    return this.prefix === '' ? key : `${this.prefix}/${key}`;
  }

  /** The object's bytes (as File.download reads them), failing when they stall (`stallTimeoutMs`). */
  private readStream(file: File): NodeJS.ReadableStream {
    return failWhenStalled(file.createReadStream(), this.stallTimeoutMs);
  }

  private file(objectKey: string, generation?: string): File {
    return this.storage.bucket(this.bucket).file(objectKey, generation === undefined ? {} : { generation: Number(generation) });
  }

  /**
   * Reads the metadata, then `read`s that very generation, so the body and the info returned
   * belong together. A writer replacing the object in between makes that generation vanish (404):
   * start over with the new one.
   */
  private async readPinned<T>(operation: string, key: string, read: (file: File, info: ObjectInfo) => Promise<T>): Promise<T> {
    const objectKey = this.objectKey(key);
    for (let attempt = 1; ; attempt++) {
      const info = await this.head(key).catch((err: unknown) => {
        throw this.failure(operation, objectKey, (err as Error).cause ?? err);
      });
      if (info === undefined) throw new NotFoundError(key, this.uri);
      try {
        return await read(this.file(objectKey, info.etag), info);
      } catch (err) {
        if (!isNotFound(err) || attempt >= READ_ATTEMPTS) throw this.failure(operation, objectKey, err);
      }
    }
  }

  /** ifGenerationMatch: undefined for none, 0 for "must not exist". Throws the SDK's error as is. */
  private async save(objectKey: string, key: string, body: Buffer | string, ifGenerationMatch: number | undefined): Promise<ObjectInfo> {
    const file = this.file(objectKey);
    await file.save(body, {
      // One request, no upload session: these bodies are small, and the test server has no sessions.
      resumable: false,
      ...(ifGenerationMatch !== undefined && { preconditionOpts: { ifGenerationMatch } }),
    });
    return this.infoOf(key, file.metadata);
  }

  private infoOf(key: string, metadata: FileMetadata): ObjectInfo {
    return {
      key,
      size: Number(metadata.size ?? 0),
      etag: String(metadata.generation ?? ''),
      updated: new Date(metadata.updated ?? 0),
    };
  }

  /** An error naming the operation and object, keeping the SDK's as `cause`. */
  private failure(operation: string, objectKey: string, err: unknown): Error {
    return new Error(`GCS ${operation} of gs://${this.bucket}/${objectKey} failed: ${describeError(err)}`, { cause: err });
  }
}

function statusOf(err: unknown): number | undefined {
  const code = err instanceof ApiError ? err.code : undefined;
  return typeof code === 'number' ? code : undefined;
}

function isNotFound(err: unknown): boolean {
  // A missing bucket is a misconfiguration, not a missing object.
  return statusOf(err) === 404 && !/bucket does not exist/i.test((err as Error).message);
}

function isPreconditionFailed(err: unknown): boolean {
  return statusOf(err) === 412;
}

/** Network errors carry their errno code (ECONNREFUSED…) and sometimes an empty message. */
function describeError(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const code = (err as NodeJS.ErrnoException).code;
  const status = statusOf(err);
  const inner = err instanceof AggregateError ? err.errors.map((e: unknown) => describeError(e)).join('; ') : '';
  const parts = [
    err.name !== 'Error' ? err.name : '',
    status !== undefined ? `HTTP ${status}` : '',
    typeof code === 'string' ? code : '',
    err.message || inner,
  ].filter((part, i, all) => part !== '' && all.indexOf(part) === i);
  return parts.join(': ') || 'unknown error';
}
