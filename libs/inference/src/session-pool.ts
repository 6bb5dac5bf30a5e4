import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import * as ort from 'onnxruntime-node';

export interface SessionPoolOptions {
  /**
   * Sessions, each in its own worker thread, running passes side by side. 0 runs one session on
   * the calling thread instead: onnxruntime-node's `run` is synchronous, so that blocks the event
   * loop (no request is read or answered) for the whole pass.
   */
  sessions: number;
  /** onnxruntime intra-op threads per session. */
  threads: number;
}

/**
 * ONNX models above this size get one session using every core instead of one single-threaded
 * session per core: each session holds its own copy of the weights, and at DistilBERT-base size
 * (266 MB) one two-thread session also passed a review 1.8x faster than two one-thread sessions
 * side by side. Below it, one session per core serves more requests per second and the copies are
 * cheap (docs/benchmarks.md, Serving and Real size).
 */
export const LARGE_MODEL_BYTES = 64 * 1024 * 1024;

/** The default sessions for a model of this size; explicit settings override either number. */
export function defaultSessionLayout(modelBytes: number, cores = availableParallelism()): SessionPoolOptions {
  return modelBytes > LARGE_MODEL_BYTES ? { sessions: 1, threads: cores } : { sessions: cores, threads: 1 };
}

/** One forward pass: int64 inputs by name, all shaped [batch, seq]. */
export interface PassInputs {
  feeds: Record<string, BigInt64Array>;
  batch: number;
  seq: number;
}

export interface PassOutput {
  data: Float32Array;
  dims: readonly number[];
}

export class InferenceError extends Error {
  readonly code = 'INFERENCE_ERROR';
}

/** Messages between the pool and its workers. */
type ToWorker = { id: number; pass: PassInputs };
type FromWorker =
  | { ready: true; inputNames: string[] }
  | { ready: false; error: string }
  | { id: number; output: PassOutput }
  | { id: number; error: string };

/**
 * Worker source, run with `eval` so it needs no file of its own next to a bundle. CommonJS: it
 * requires onnxruntime-node by the absolute path the pool resolved, the same copy as ours.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const ort = require(workerData.ortPath);
const message = (e) => (e && e.message) || String(e);
ort.InferenceSession.create(workerData.modelPath, workerData.options).then((session) => {
  parentPort.on('message', async ({ id, pass }) => {
    try {
      const feeds = {};
      for (const [name, data] of Object.entries(pass.feeds)) feeds[name] = new ort.Tensor('int64', data, [pass.batch, pass.seq]);
      const { logits } = await session.run(feeds);
      if (!logits) throw new Error('model has no "logits" output (outputs: ' + session.outputNames.join(', ') + ')');
      parentPort.postMessage({ id, output: { data: logits.data, dims: logits.dims } });
    } catch (e) {
      parentPort.postMessage({ id, error: message(e) });
    }
  });
  parentPort.postMessage({ ready: true, inputNames: session.inputNames });
}, (e) => parentPort.postMessage({ ready: false, error: message(e) }));
`;

interface Call {
  id: number;
  pass: PassInputs;
  resolve: (output: PassOutput) => void;
  reject: (error: Error) => void;
}

/** A worker and the call it is running, if any. */
interface Slot {
  worker: Worker;
  call?: Call;
}

/**
 * onnxruntime sessions over one model, each in a worker thread: a pass runs off the event loop, so
 * the next requests are read and tokenized meanwhile, and passes run side by side when there are
 * several sessions. Passes queue for the first free session.
 */
export class SessionPool {
  private readonly queue: Call[] = [];
  private nextId = 0;
  private broken: Error | undefined;
  private released = false;

  private constructor(
    private readonly slots: Slot[],
    private readonly inline: ort.InferenceSession | undefined,
    readonly inputNames: readonly string[],
    readonly layout: SessionPoolOptions,
  ) {
    for (const slot of slots) this.watch(slot);
  }

  /** Throws InferenceError (with onnxruntime's reason) when a session cannot be created. */
  static async open(modelPath: string, opts: SessionPoolOptions): Promise<SessionPool> {
    const options: ort.InferenceSession.SessionOptions = {
      intraOpNumThreads: opts.threads,
      interOpNumThreads: 1,
      graphOptimizationLevel: 'all',
    };
    if (opts.sessions === 0) {
      let session: ort.InferenceSession;
      try {
        session = await ort.InferenceSession.create(modelPath, options);
      } catch (error) {
        throw new InferenceError(`cannot load ONNX model ${modelPath}: ${(error as Error).message}`);
      }
      return new SessionPool([], session, session.inputNames, opts);
    }
    const ortPath = createRequire(import.meta.url).resolve('onnxruntime-node');
    // execArgv: [] so the parent's flags (e.g. `--input-type=module`, which would make the
    // CommonJS source ESM) do not apply to the worker.
    const workers = Array.from(
      { length: opts.sessions },
      () => new Worker(WORKER_SOURCE, { eval: true, execArgv: [], workerData: { ortPath, modelPath, options } }),
    );
    const started = await Promise.allSettled(workers.map((worker) => ready(worker)));
    const failed = started.find((s) => s.status === 'rejected');
    if (failed) {
      await Promise.all(workers.map((worker) => worker.terminate()));
      throw new InferenceError(`cannot load ONNX model ${modelPath}: ${(failed.reason as Error).message}`);
    }
    const [first] = started as PromiseFulfilledResult<string[]>[];
    return new SessionPool(
      workers.map((worker) => ({ worker })),
      undefined,
      first!.value,
      opts,
    );
  }

  async run(pass: PassInputs): Promise<PassOutput> {
    if (this.broken) throw this.broken;
    if (this.inline) return runInline(this.inline, pass);
    return new Promise((resolve, reject) => {
      this.queue.push({ id: this.nextId++, pass, resolve, reject });
      this.dispatch();
    });
  }

  /** Why the pool stopped serving on its own (a worker died), if it did. */
  get failure(): Error | undefined {
    return this.released ? undefined : this.broken;
  }

  async release(): Promise<void> {
    this.released = true;
    this.fail(new InferenceError('the model was released'));
    if (this.inline) await this.inline.release();
    await Promise.all(this.slots.map((slot) => slot.worker.terminate()));
  }

  private dispatch(): void {
    for (const slot of this.slots) {
      if (this.queue.length === 0) return;
      if (slot.call) continue;
      const call = this.queue.shift()!;
      slot.call = call;
      // A busy worker keeps the process alive; an idle one does not (a CLI run can just end).
      slot.worker.ref();
      const transfer = Object.values(call.pass.feeds).map((a) => a.buffer as ArrayBuffer);
      slot.worker.postMessage({ id: call.id, pass: call.pass } satisfies ToWorker, transfer);
    }
  }

  private watch(slot: Slot): void {
    slot.worker.on('message', (message: FromWorker) => {
      const call = slot.call;
      if (!('id' in message) || call?.id !== message.id) return;
      slot.call = undefined;
      slot.worker.unref();
      if ('error' in message) call.reject(new InferenceError(message.error));
      else call.resolve(message.output);
      this.dispatch();
    });
    // Adding a 'message' listener refs a worker: an idle one (even one that never gets a pass)
    // must not keep the process alive, or a CLI run would never end.
    slot.worker.unref();
    const died = (why: string) => this.fail(new InferenceError(`an inference worker stopped: ${why}`));
    slot.worker.on('error', (error) => died(error.message));
    slot.worker.on('exit', (code) => died(`exit code ${code}`));
  }

  /** Every call waiting or running fails, and so does every later one. */
  private fail(error: Error): void {
    this.broken ??= error;
    for (const call of this.queue.splice(0)) call.reject(this.broken);
    for (const slot of this.slots) {
      slot.call?.reject(this.broken);
      slot.call = undefined;
    }
  }
}

function ready(worker: Worker): Promise<string[]> {
  return new Promise((resolve, reject) => {
    worker.once('message', (message: FromWorker) => {
      if ('ready' in message && message.ready) resolve(message.inputNames);
      else reject(new Error('error' in message ? message.error : 'unexpected message'));
    });
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`worker exited with code ${code}`)));
  });
}

async function runInline(session: ort.InferenceSession, pass: PassInputs): Promise<PassOutput> {
  const feeds: Record<string, ort.Tensor> = {};
  for (const [name, data] of Object.entries(pass.feeds)) feeds[name] = new ort.Tensor('int64', data, [pass.batch, pass.seq]);
  const { logits } = await session.run(feeds);
  if (!logits) throw new InferenceError(`model has no "logits" output (outputs: ${session.outputNames.join(', ')})`);
  return { data: logits.data as Float32Array, dims: logits.dims };
}
