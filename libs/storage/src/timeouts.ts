import { finished, Readable } from 'node:stream';

/**
 * How long a cloud store waits on its server. A total time limit would not do for model files
 * (500 MB takes seconds on one link and minutes on another), so each bound is on waiting alone.
 */
export interface StoreTimeouts {
  /**
   * From sending a request to its response headers (S3: the SDK's requestTimeout; GCS: the SDK's
   * per-request `timeout`). A file upload gets it plus its size at the slowest rate allowed (`uploadTimeoutMs`).
   */
  responseMs: number;
  /**
   * Without a byte of a response body while its reader waits for one (see `failWhenStalled`): a
   * stream that stalls, however long it ran before. A reader that stops reading stops this clock.
   */
  stallMs: number;
}

/** Both: S3 and GCS answer a GET's headers within a second, and a healthy stream never pauses this long. */
export const DEFAULT_STORE_TIMEOUTS: StoreTimeouts = { responseMs: 30_000, stallMs: 30_000 };

/** The slowest average rate an upload may keep: 1 MiB/s sends a 500 MB model in about 8 minutes. */
const MIN_UPLOAD_BYTES_PER_MS = (1024 * 1024) / 1000;

/**
 * The bound on uploading `bytes` and hearing back: the response timeout plus the time the file
 * takes at the slowest rate allowed (0: none), so a server that takes the body and never answers
 * cannot hold an upload (a training job's registration) forever.
 */
export function uploadTimeoutMs(timeouts: Pick<StoreTimeouts, 'responseMs'>, bytes: number): number {
  return timeouts.responseMs === 0 ? 0 : timeouts.responseMs + Math.ceil(bytes / MIN_UPLOAD_BYTES_PER_MS);
}

/**
 * MLOPS_STORE_RESPONSE_TIMEOUT_MS and MLOPS_STORE_STALL_TIMEOUT_MS from `env` (milliseconds, 0 for
 * none), else `DEFAULT_STORE_TIMEOUTS`.
 */
export function storeTimeoutsFromEnv(env: NodeJS.ProcessEnv): StoreTimeouts {
  const read = (name: string, fallback: number): number => {
    const raw = env[name];
    if (raw === undefined || raw === '') return fallback;
    if (!/^\d+$/.test(raw))
      throw new Error(`${name} must be a whole number of milliseconds (0 for no timeout), not ${JSON.stringify(raw)}`);
    return Number(raw);
  };
  return {
    responseMs: read('MLOPS_STORE_RESPONSE_TIMEOUT_MS', DEFAULT_STORE_TIMEOUTS.responseMs),
    stallMs: read('MLOPS_STORE_STALL_TIMEOUT_MS', DEFAULT_STORE_TIMEOUTS.stallMs),
  };
}

export class StoreTimeoutError extends Error {
  readonly code = 'ETIMEDOUT';
  constructor(message: string) {
    super(message);
    this.name = 'TimeoutError';
  }
}

/**
 * `source` passed through, failing with StoreTimeoutError (and destroying `source`) when no data
 * comes for `ms` while the reader waits for some: before the first byte, or mid-stream. Only
 * waiting counts: while the reader is full (a slow consumer, backpressure) the clock stops, so
 * one that reads slowly is never cut off. `ms` 0: no timeout.
 */
export function failWhenStalled(source: NodeJS.ReadableStream, ms: number): Readable {
  const input = source as Readable;
  let timer: NodeJS.Timeout | undefined;
  const disarm = () => {
    clearTimeout(timer);
    timer = undefined;
  };
  const arm = () => {
    if (timer === undefined && ms > 0 && !output.destroyed) {
      timer = setTimeout(() => output.destroy(new StoreTimeoutError(`no data for ${ms} ms`)), ms);
    }
  };
  const output: Readable = new Readable({
    read() {
      arm();
      input.resume();
    },
    destroy(error, callback) {
      disarm();
      input.destroy(error ?? undefined);
      callback(error);
    },
  });
  input.pause();
  input.on('data', (chunk: Buffer) => {
    disarm();
    if (output.push(chunk)) arm();
    else input.pause();
  });
  input.once('end', () => {
    disarm();
    output.push(null);
  });
  // An error, or a close before the end (premature close).
  finished(input, (error) => {
    if (error && !output.destroyed) output.destroy(error);
  });
  return output;
}
