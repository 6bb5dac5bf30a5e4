/**
 * Key segments starting with this are reserved: the file store keeps its temp, lock and etag files
 * beside their object under such names. Every store refuses them, so keys move between stores.
 */
export const RESERVED_SEGMENT_PREFIX = '.~';

/** Rules every store enforces, so a key that works on file:// also works on gs:// and s3://. */
export function assertValidKey(key: string): void {
  const problem = keyProblem(key);
  if (problem) throw new Error(`Invalid object key ${JSON.stringify(key)}: ${problem}`);
}

/** A list() prefix: '' or the start of a valid key (it may end with '/'). */
export function assertValidPrefix(prefix: string): void {
  if (prefix === '') return;
  const problem = keyProblem(prefix.endsWith('/') ? prefix.slice(0, -1) : prefix);
  if (problem) throw new Error(`Invalid key prefix ${JSON.stringify(prefix)}: ${problem}`);
}

export function isValidKey(key: string): boolean {
  return keyProblem(key) === undefined;
}

function keyProblem(key: string): string | undefined {
  if (key === '') return 'it is empty';
  if (key.startsWith('/')) return 'absolute keys are not allowed';
  if (/[\\\0]/.test(key)) return 'backslashes and NUL characters are not allowed';
  for (const segment of key.split('/')) {
    if (segment === '') return 'empty path segments are not allowed';
    if (segment === '.' || segment === '..') return '"." and ".." segments are not allowed';
    if (segment.startsWith(RESERVED_SEGMENT_PREFIX)) return `segments starting with "${RESERVED_SEGMENT_PREFIX}" are reserved`;
  }
  return undefined;
}

/** A bucket store's place: the bucket, and a key prefix without leading or trailing '/' ('' for the root). */
export interface BucketLocation {
  bucket: string;
  prefix: string;
}

const S3_BUCKET_NAME = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
const GCS_BUCKET_NAME = /^[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]$/;

export function parseS3Uri(uri: string): BucketLocation {
  return parseBucketUri(uri, 's3', S3_BUCKET_NAME, 'S3');
}

export function parseGcsUri(uri: string): BucketLocation {
  return parseBucketUri(uri, 'gs', GCS_BUCKET_NAME, 'GCS');
}

/** The canonical URI of a bucket store: no trailing '/'. */
export function bucketStoreUri(scheme: 's3' | 'gs', { bucket, prefix }: BucketLocation): string {
  return `${scheme}://${bucket}${prefix === '' ? '' : `/${prefix}`}`;
}

/** Parses `<scheme>://bucket` or `<scheme>://bucket/some/prefix` (a trailing '/' is ignored). */
function parseBucketUri(uri: string, scheme: 's3' | 'gs', bucketName: RegExp, provider: string): BucketLocation {
  const match = new RegExp(`^${scheme}://([^/]*)(?:/(.*))?$`, 'i').exec(uri);
  const bucket = match?.[1] ?? '';
  if (!bucketName.test(bucket)) throw new Error(`Store URI ${uri} does not name a valid ${provider} bucket (${scheme}://bucket/prefix)`);
  const prefix = (match?.[2] ?? '').replace(/\/$/, '');
  if (prefix !== '') {
    try {
      assertValidKey(prefix);
    } catch (err) {
      throw new Error(`Store URI ${uri} has an invalid prefix: ${(err as Error).message}`);
    }
  }
  return { bucket, prefix };
}
