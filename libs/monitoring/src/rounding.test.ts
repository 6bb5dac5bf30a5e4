import { expect, it } from 'vitest';
import { roundTo } from './rounding.ts';

it('rounds to the given decimal places', () => {
  expect(roundTo(12.3456, 2)).toBe(12.35);
  expect(roundTo(0.123456789, 5)).toBe(0.12346);
  expect(roundTo(-1.5, 0)).toBe(-1);
});
