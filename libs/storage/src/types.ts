export interface ObjectInfo {
  /** `/`-separated, relative to the store root. */
  key: string;
  size: number;
  /** Opaque version tag: compare for equality only (a content hash here, a generation or ETag in the cloud). */
  etag: string;
  updated: Date;
}

export class NotFoundError extends Error {
  readonly code = 'NOT_FOUND';
  constructor(
    readonly key: string,
    readonly store: string,
  ) {
    super(`Object "${key}" not found in ${store}`);
    this.name = 'NotFoundError';
  }
}

export class PreconditionFailedError extends Error {
  readonly code = 'PRECONDITION_FAILED';
  constructor(
    readonly key: string,
    readonly store: string,
    reason: string,
  ) {
    super(`Precondition failed for "${key}" in ${store}: ${reason}`);
    this.name = 'PreconditionFailedError';
  }
}

export interface ObjectStore {
  /** e.g. file:///abs/path/.mlops */
  readonly uri: string;
  /** Throws NotFoundError if absent. */
  get(key: string): Promise<{ body: Buffer; info: ObjectInfo }>;
  head(key: string): Promise<ObjectInfo | undefined>;
  /** Atomic: readers see the old or the new object, never a partial one. */
  put(key: string, body: Buffer | string): Promise<ObjectInfo>;
  /** Throws PreconditionFailedError if the key exists. */
  putIfAbsent(key: string, body: Buffer | string): Promise<ObjectInfo>;
  /** Throws PreconditionFailedError if the key is absent or its etag differs. */
  putIfMatch(key: string, body: Buffer | string, etag: string): Promise<ObjectInfo>;
  /** Every object whose key starts with `prefix`, at any depth, sorted by key. */
  list(prefix: string): Promise<ObjectInfo[]>;
  /** No error if absent. */
  delete(key: string): Promise<void>;
  /** Throws NotFoundError if absent. */
  createReadStream(key: string): Promise<NodeJS.ReadableStream>;
  /** Streamed and atomic. */
  uploadFile(key: string, localPath: string): Promise<ObjectInfo>;
  /** Streamed and atomic (the local file appears complete or not at all). */
  downloadFile(key: string, localPath: string): Promise<ObjectInfo>;
}
