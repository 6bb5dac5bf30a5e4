/** Timing loops and their statistics, shared by the measurements that time passes in this process. */

export interface Speed {
  textsPerSecond: number;
  /** Per pass (one forward pass / one pipeline call / one request), in ms. */
  p50: number;
  p99: number;
}

export function quantile(values: number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));

/**
 * 0…n-1 visited with a stride near n/φ that shares no factor with n: every index once per round,
 * consecutive ones far apart. Inputs sorted by length then cover all lengths even when a large
 * model gets through only a part of them in the time given.
 */
export function spreadOrder(n: number): number[] {
  let stride = Math.max(1, Math.round(n / 1.618));
  while (gcd(stride, n) !== 1) stride++;
  return Array.from({ length: n }, (_, i) => (i * stride) % n);
}

/**
 * Runs `pass(i)` over the inputs for `seconds` (at least once), in `spreadOrder`, after one untimed
 * warm-up pass: a session's first run at a new shape allocates its buffers. `pass` returns the texts it handled.
 */
export async function measure(seconds: number, inputs: number, pass: (i: number) => Promise<number>, parallel = 1): Promise<Speed> {
  await Promise.all(Array.from({ length: parallel }, (_, k) => pass(k % inputs)));
  const order = spreadOrder(inputs);
  const times: number[] = [];
  let texts = 0;
  let next = 0;
  const started = performance.now();
  // `parallel` callers, each taking the next input as soon as its pass returns.
  const caller = async () => {
    while (next === 0 || performance.now() - started < seconds * 1000) {
      const t = performance.now();
      texts += await pass(order[next++ % inputs]!);
      times.push(performance.now() - t);
    }
  };
  await Promise.all(Array.from({ length: parallel }, caller));
  return { textsPerSecond: texts / ((performance.now() - started) / 1000), p50: quantile(times, 0.5), p99: quantile(times, 0.99) };
}

/** Whole batches only, so every batch size sees texts of the same lengths. */
export const batchesOf = <T>(items: T[], size: number): T[][] =>
  Array.from({ length: Math.floor(items.length / size) }, (_, i) => items.slice(i * size, (i + 1) * size));
