import { describe, expect, it } from 'vitest';
import { MicroBatcher, OverloadedError } from './micro-batcher.ts';

function recorder(delayMs = 0) {
  const calls: number[][] = [];
  const run = async (items: number[]) => {
    calls.push(items);
    if (delayMs) await new Promise((r) => setTimeout(r, delayMs));
    return items.map((x) => x * 10);
  };
  return { calls, run };
}

describe('MicroBatcher', () => {
  it('runs concurrent requests as one call and hands each its own results in order', async () => {
    const { calls, run } = recorder();
    const batcher = new MicroBatcher(run, { maxBatchSize: 64, maxWaitMs: 5 });
    const results = await Promise.all([batcher.submit([1, 2]), batcher.submit([3]), batcher.submit([4, 5, 6])]);
    expect(results).toEqual([[10, 20], [30], [40, 50, 60]]);
    expect(calls).toEqual([[1, 2, 3, 4, 5, 6]]);
  });

  it('runs at once when the batch is full, without waiting', async () => {
    const { calls, run } = recorder();
    const batcher = new MicroBatcher(run, { maxBatchSize: 3, maxWaitMs: 60_000 });
    const results = await Promise.all([batcher.submit([1, 2]), batcher.submit([3])]);
    expect(results).toEqual([[10, 20], [30]]);
    expect(calls).toEqual([[1, 2, 3]]);
  });

  it('never holds a lone request longer than the wait', async () => {
    const { run } = recorder();
    const batcher = new MicroBatcher(run, { maxBatchSize: 64, maxWaitMs: 20 });
    const start = performance.now();
    await batcher.submit([1]);
    expect(performance.now() - start).toBeLessThan(1000); // the 60 s limit of a lost timer would show
  });

  it('splits at request boundaries and lets an oversized request through alone', async () => {
    const { calls, run } = recorder(5);
    const batcher = new MicroBatcher(run, { maxBatchSize: 4, maxWaitMs: 1 });
    const results = await Promise.all([batcher.submit([1, 2, 3]), batcher.submit([4, 5]), batcher.submit([6, 7, 8, 9, 10])]);
    expect(results.flat()).toEqual([10, 20, 30, 40, 50, 60, 70, 80, 90, 100]);
    expect(calls).toEqual([
      [1, 2, 3],
      [4, 5],
      [6, 7, 8, 9, 10],
    ]);
  });

  it('gathers what arrives while a call runs into the next call', async () => {
    const { calls, run } = recorder(30);
    const batcher = new MicroBatcher(run, { maxBatchSize: 64, maxWaitMs: 1 });
    const first = batcher.submit([1]);
    await new Promise((r) => setTimeout(r, 10)); // the first call is running now
    const rest = await Promise.all([batcher.submit([2]), batcher.submit([3])]);
    expect(await first).toEqual([10]);
    expect(rest).toEqual([[20], [30]]);
    expect(calls).toEqual([[1], [2, 3]]);
  });

  it('sends a request at once when idle with no wait, and batches what arrives during a pass', async () => {
    const { calls, run } = recorder(30);
    const batcher = new MicroBatcher(run, { maxBatchSize: 64, maxWaitMs: 0 });
    const first = batcher.submit([1]);
    expect(calls).toEqual([[1]]); // already running, no timer in between
    const rest = Promise.all([batcher.submit([2]), batcher.submit([3])]);
    expect(await first).toEqual([10]);
    expect(await rest).toEqual([[20], [30]]);
    expect(calls).toEqual([[1], [2, 3]]);
  });

  it('runs up to maxInFlight calls at once and batches the rest behind them', async () => {
    const { calls, run } = recorder(30);
    const batcher = new MicroBatcher(run, { maxBatchSize: 64, maxWaitMs: 0, maxInFlight: 2 });
    const all = Promise.all([batcher.submit([1]), batcher.submit([2]), batcher.submit([3]), batcher.submit([4])]);
    expect(calls).toEqual([[1], [2]]); // both running, the rest queued
    expect(await all).toEqual([[10], [20], [30], [40]]);
    expect(calls).toEqual([[1], [2], [3, 4]]);
    expect(() => new MicroBatcher(run, { maxBatchSize: 1, maxWaitMs: 0, maxInFlight: 0 })).toThrow(RangeError);
  });

  it('rejects every request of a failed call and keeps serving the next ones', async () => {
    let fail = true;
    const batcher = new MicroBatcher(
      async (items: number[]) => {
        if (fail) throw new Error('model crashed');
        return items;
      },
      { maxBatchSize: 8, maxWaitMs: 1 },
    );
    const failed = await Promise.allSettled([batcher.submit([1]), batcher.submit([2])]);
    expect(failed.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    fail = false;
    expect(await batcher.submit([3])).toEqual([3]);
  });

  it('refuses a submit beyond maxQueued at once, with a retry time, and takes work again once the queue drains', async () => {
    const calls: number[][] = [];
    let open = () => {};
    const gate = new Promise<void>((resolve) => (open = resolve));
    const run = async (items: number[]) => {
      calls.push(items);
      await gate;
      return items.map((x) => x * 10);
    };
    const batcher = new MicroBatcher(run, { maxBatchSize: 2, maxWaitMs: 0, maxQueued: 3 });
    const running = batcher.submit([1]);
    const waiting = [batcher.submit([2, 3]), batcher.submit([4])];
    const refused = batcher.submit([5]);
    await expect(refused).rejects.toBeInstanceOf(OverloadedError);
    await expect(refused).rejects.toMatchObject({
      code: 'OVERLOADED',
      retryAfterSeconds: 1,
      message: expect.stringMatching(/3 texts are waiting \(at most 3\)/),
    });
    open();
    expect(await Promise.all([running, ...waiting])).toEqual([[10], [20, 30], [40]]);
    expect(await batcher.submit([6])).toEqual([60]);
    expect(calls).toEqual([[1], [2, 3], [4], [6]]);
  });

  it('refuses a submit that would wait longer than maxQueueMs, by the time recent calls took', async () => {
    const { run } = recorder(50);
    const batcher = new MicroBatcher(run, { maxBatchSize: 1, maxWaitMs: 0, maxQueueMs: 75 });
    await batcher.submit([1]); // at least 50 ms per item from now on
    const running = batcher.submit([2]);
    const waiting = batcher.submit([3]);
    await expect(batcher.submit([4])).rejects.toMatchObject({ code: 'OVERLOADED', retryAfterSeconds: 1 });
    expect(await Promise.all([running, waiting])).toEqual([[20], [30]]);
  });
});
