export interface MicroBatcherOptions {
  /** Most items run in one call. */
  maxBatchSize: number;
  /**
   * Longest time the first queued item waits for company when the model is idle. 0 sends it at
   * once: requests that arrive while a pass runs are batched anyway, when it returns.
   */
  maxWaitMs: number;
}

interface Pending<I, O> {
  items: I[];
  resolve: (outputs: O[]) => void;
  reject: (error: unknown) => void;
}

/**
 * Dynamic batching: items from concurrent requests are gathered until the batch is full or the
 * first of them has waited `maxWaitMs`, then run as one call. One call runs at a time (the model
 * already uses every core); items that queue meanwhile go out together as soon as it returns.
 * A request's items always stay together, in order.
 */
export class MicroBatcher<I, O> {
  private queue: Pending<I, O>[] = [];
  private queued = 0;
  private timer: NodeJS.Timeout | undefined;
  private running = false;

  constructor(
    private readonly run: (items: I[]) => Promise<O[]>,
    private readonly opts: MicroBatcherOptions,
  ) {
    if (opts.maxBatchSize < 1) throw new RangeError('maxBatchSize must be at least 1');
  }

  submit(items: I[]): Promise<O[]> {
    if (items.length === 0) return Promise.resolve([]);
    return new Promise((resolve, reject) => {
      this.queue.push({ items, resolve, reject });
      this.queued += items.length;
      if (this.queued >= this.opts.maxBatchSize || (this.opts.maxWaitMs === 0 && !this.running)) this.flush();
      else if (!this.running) this.timer ??= setTimeout(() => this.flush(), this.opts.maxWaitMs);
    });
  }

  private flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.running || this.queue.length === 0) return;
    const batch: Pending<I, O>[] = [];
    let size = 0;
    // Always take the first request, even when it alone exceeds the limit, so nothing starves.
    while (this.queue.length > 0 && (batch.length === 0 || size + this.queue[0]!.items.length <= this.opts.maxBatchSize)) {
      const next = this.queue.shift()!;
      batch.push(next);
      size += next.items.length;
    }
    this.queued -= size;
    this.running = true;
    void this.execute(batch).finally(() => {
      this.running = false;
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
