import { describe, expect, it } from 'vitest';
import { MicroBatcher } from './micro-batcher.ts';

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
});
