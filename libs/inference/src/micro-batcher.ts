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
}

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

  constructor(
    private readonly run: (items: I[]) => Promise<O[]>,
    private readonly opts: MicroBatcherOptions,
  ) {
    if (opts.maxBatchSize < 1) throw new RangeError('maxBatchSize must be at least 1');
    if ((opts.maxInFlight ?? 1) < 1) throw new RangeError('maxInFlight must be at least 1');
  }

  submit(items: I[]): Promise<O[]> {
    if (items.length === 0) return Promise.resolve([]);
    return new Promise((resolve, reject) => {
      this.queue.push({ items, resolve, reject });
      this.queued += items.length;
      if (this.queued >= this.opts.maxBatchSize || (this.opts.maxWaitMs === 0 && !this.full)) this.flush();
      else if (!this.full) this.timer ??= setTimeout(() => this.flush(), this.opts.maxWaitMs);
    });
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
    void this.execute(batch).finally(() => {
      this.inFlight--;
      if (this.queue.length > 0) this.flush();
    });
  }

  private async execute(batch: Pending<I, O>[]): Promise<void> {
    try {
      const outputs = await this.run(batch.flatMap((p) => p.items));
      let offset = 0;
      for (const p of batch) {
        p.resolve(outputs.slice(offset, offset + p.items.length));
        offset += p.items.length;
      }
    } catch (error) {
      for (const p of batch) p.reject(error);
    }
  }
}
