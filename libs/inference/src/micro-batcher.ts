export interface MicroBatcherOptions {
  /** Most items run in one call. */
  maxBatchSize: number;
  /**
   * Longest time the first queued item waits for company when the model is idle. 0 sends it at
   * once: requests that arrive while a pass runs are batched anyway, when it returns.
   */
  maxWaitMs: number;
  /**
   * Calls running at once (default 1). More than one lets the next batch be prepared (tokenized)
   * while a pass runs elsewhere, and keeps several sessions busy.
   */
  maxInFlight?: number;
  /** Most items waiting (not running) at once; a submit beyond it is refused (OverloadedError). Default: no bound. */
  maxQueued?: number;
  /**
   * Longest wait a submit may face, estimated from the time recent calls took per item; a submit
   * that would wait longer is refused (OverloadedError). Default: no bound.
   */
  maxQueueMs?: number;
}

/** The batcher has more waiting than it may hold: come back after `retryAfterSeconds`. */
export class OverloadedError extends Error {
  readonly code = 'OVERLOADED';
  constructor(
    message: string,
    readonly retryAfterSeconds: number,
  ) {
    super(message);
    this.name = 'OverloadedError';
  }
}

/** Weight of the newest call in the running estimate of time per item. */
const RATE_SMOOTHING = 0.2;

interface Pending<I, O> {
  items: I[];
  resolve: (outputs: O[]) => void;
  reject: (error: unknown) => void;
}

/**
 * Dynamic batching: items from concurrent requests are gathered until the batch is full or the
 * first of them has waited `maxWaitMs`, then run as one call. Up to `maxInFlight` calls run at a
 * time; items that queue meanwhile go out together as soon as one returns.
 * A request's items always stay together, in order.
 */
export class MicroBatcher<I, O> {
  private queue: Pending<I, O>[] = [];
  private queued = 0;
  private timer: NodeJS.Timeout | undefined;
  private inFlight = 0;
  /** Time per item of recent calls (smoothed), once one has finished. */
  private msPerItem: number | undefined;

  constructor(
    private readonly run: (items: I[]) => Promise<O[]>,
    private readonly opts: MicroBatcherOptions,
  ) {
    if (opts.maxBatchSize < 1) throw new RangeError('maxBatchSize must be at least 1');
    if ((opts.maxInFlight ?? 1) < 1) throw new RangeError('maxInFlight must be at least 1');
  }

  /** Rejects with OverloadedError, at once, when the queue is at its bound; an empty queue always takes a submit. */
  submit(items: I[]): Promise<O[]> {
    if (items.length === 0) return Promise.resolve([]);
    const refusal = this.queued > 0 ? this.refusal(items.length) : undefined;
    if (refusal) return Promise.reject(refusal);
    return new Promise((resolve, reject) => {
      this.queue.push({ items, resolve, reject });
      this.queued += items.length;
      if (this.queued >= this.opts.maxBatchSize || (this.opts.maxWaitMs === 0 && !this.full)) this.flush();
      else if (!this.full) this.timer ??= setTimeout(() => this.flush(), this.opts.maxWaitMs);
    });
  }

  /** Why `count` more items may not wait, or undefined when they may. */
  private refusal(count: number): OverloadedError | undefined {
    const waiting = this.queued + count;
    const waitMs = this.msPerItem === undefined ? undefined : (waiting * this.msPerItem) / (this.opts.maxInFlight ?? 1);
    const retryAfterSeconds = Math.max(1, Math.ceil((waitMs ?? 0) / 1000));
    const { maxQueued, maxQueueMs } = this.opts;
    if (maxQueued !== undefined && waiting > maxQueued) {
      return new OverloadedError(`overloaded: ${this.queued} texts are waiting (at most ${maxQueued}); retry later`, retryAfterSeconds);
    }
    if (maxQueueMs !== undefined && waitMs !== undefined && waitMs > maxQueueMs) {
      return new OverloadedError(
        `overloaded: the texts waiting would take about ${Math.round(waitMs)} ms (at most ${maxQueueMs}); retry later`,
        retryAfterSeconds,
      );
    }
    return undefined;
  }

  private get full(): boolean {
    return this.inFlight >= (this.opts.maxInFlight ?? 1);
  }

  private flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.full || this.queue.length === 0) return;
    const batch: Pending<I, O>[] = [];
    let size = 0;
    // Always take the first request, even when it alone exceeds the limit, so nothing starves.
    while (this.queue.length > 0 && (batch.length === 0 || size + this.queue[0]!.items.length <= this.opts.maxBatchSize)) {
      const next = this.queue.shift()!;
      batch.push(next);
      size += next.items.length;
    }
    this.queued -= size;
    this.inFlight++;
    void this.execute(batch);
  }

  private async execute(batch: Pending<I, O>[]): Promise<void> {
    const items = batch.flatMap((p) => p.items);
    let outputs: O[] | undefined;
    let failure: unknown;
    try {
      const started = performance.now();
      outputs = await this.run(items);
      const msPerItem = (performance.now() - started) / items.length;
      this.msPerItem = this.msPerItem === undefined ? msPerItem : this.msPerItem + RATE_SMOOTHING * (msPerItem - this.msPerItem);
    } catch (error) {
      failure = error;
    }
    // The slot is free before the callers hear back, so what they submit next sees the queue as it is.
    this.inFlight--;
    if (this.queue.length > 0) this.flush();
    if (outputs === undefined) {
      for (const p of batch) p.reject(failure);
      return;
    }
    let offset = 0;
    for (const p of batch) {
      p.resolve(outputs.slice(offset, offset + p.items.length));
      offset += p.items.length;
    }
  }
}
