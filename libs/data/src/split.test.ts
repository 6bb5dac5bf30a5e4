import { describe, expect, it } from 'vitest';
import { stratifiedSplit, type Example } from './index.ts';

// 300 negative, 100 positive, 10 unlabelled.
const examples: Example[] = Array.from({ length: 410 }, (_, i) => ({
  text: `row ${i}`,
  label: i < 300 ? 'negative' : i < 400 ? 'positive' : undefined,
  line: i + 1,
}));

const count = (rows: Example[], label: string | undefined) => rows.filter((e) => e.label === label).length;

describe('stratifiedSplit', () => {
  it('keeps each label in proportion', () => {
    const { train, validation } = stratifiedSplit(examples, { validationRatio: 0.2, seed: 1 });
    expect([count(validation, 'negative'), count(validation, 'positive'), count(validation, undefined)]).toEqual([60, 20, 2]);
    expect([count(train, 'negative'), count(train, 'positive'), count(train, undefined)]).toEqual([240, 80, 8]);
  });

  it('is disjoint, covers every example and keeps input order', () => {
    const { train, validation } = stratifiedSplit(examples, { validationRatio: 0.25, seed: 7 });
    expect(train.length + validation.length).toBe(examples.length);
    expect(new Set([...train, ...validation]).size).toBe(examples.length);
    const lines = (rows: Example[]) => rows.map((e) => e.line);
    expect(lines(train)).toEqual([...lines(train)].sort((a, b) => a - b));
    expect(lines(validation)).toEqual([...lines(validation)].sort((a, b) => a - b));
  });

  it('is deterministic for a seed and differs across seeds', () => {
    const split = (seed: number) => stratifiedSplit(examples, { validationRatio: 0.1, seed }).validation.map((e) => e.line);
    expect(split(42)).toEqual(split(42));
    expect(split(43)).not.toEqual(split(42));
  });

  it('handles the edge ratios and rejects others', () => {
    expect(stratifiedSplit(examples, { validationRatio: 0, seed: 1 }).validation).toEqual([]);
    expect(stratifiedSplit(examples, { validationRatio: 1, seed: 1 }).train).toEqual([]);
    expect(() => stratifiedSplit(examples, { validationRatio: 1.5, seed: 1 })).toThrow(RangeError);
  });
});
