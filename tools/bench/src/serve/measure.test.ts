import { describe, expect, it } from 'vitest';
import { spreadOrder } from './measure.ts';

describe('spreadOrder', () => {
  it('visits every index once, and its first fifth already reaches every tenth of the range', () => {
    for (const n of [1, 2, 10, 64, 512, 513]) {
      const order = spreadOrder(n);
      expect([...order].sort((a, b) => a - b)).toEqual(Array.from({ length: n }, (_, i) => i));
    }
    const tenths = new Set(
      spreadOrder(512)
        .slice(0, 100)
        .map((i) => Math.floor(i / 51.2)),
    );
    expect([...tenths].sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });
});
