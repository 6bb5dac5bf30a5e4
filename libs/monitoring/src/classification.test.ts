import { describe, expect, it } from 'vitest';
import { classificationMetrics, wilsonInterval } from './classification.ts';

describe('classificationMetrics', () => {
  it('computes accuracy and per-class precision/recall/F1 by hand-checked counts', () => {
    // positive: tp=2 fp=1 fn=1; negative: tp=1 fp=1 fn=1
    const truth = ['positive', 'positive', 'positive', 'negative', 'negative'];
    const predicted = ['positive', 'positive', 'negative', 'positive', 'negative'];
    const m = classificationMetrics(truth, predicted, ['negative', 'positive']);
    expect(m.n).toBe(5);
    expect(m.accuracy).toBeCloseTo(0.6);
    expect(m.per_class.positive).toEqual({ precision: 2 / 3, recall: 2 / 3, f1: 2 / 3, support: 3 });
    expect(m.per_class.negative).toEqual({ precision: 0.5, recall: 0.5, f1: 0.5, support: 2 });
    expect(m.macro_f1).toBeCloseTo((2 / 3 + 0.5) / 2);
  });

  it('gives 0 rather than NaN for a class never predicted', () => {
    const m = classificationMetrics(['a', 'b'], ['a', 'a'], ['a', 'b']);
    expect(m.per_class.b).toEqual({ precision: 0, recall: 0, f1: 0, support: 1 });
  });

  it('rejects unknown labels and length mismatches', () => {
    expect(() => classificationMetrics(['a'], ['c'], ['a', 'b'])).toThrow(/"c" is not one of/);
    expect(() => classificationMetrics(['c'], ['c'], ['a', 'b'])).toThrow(/"c" is not one of/);
    expect(() => classificationMetrics(['a'], [], ['a'])).toThrow(/1 true labels but 0/);
  });
});

describe('wilsonInterval', () => {
  it('matches the textbook value and narrows with n', () => {
    const [lo, hi] = wilsonInterval(80, 100);
    expect(lo).toBeCloseTo(0.7112, 3);
    expect(hi).toBeCloseTo(0.8666, 3);
    const [lo2, hi2] = wilsonInterval(8000, 10000);
    expect(hi2 - lo2).toBeLessThan((hi - lo) / 5);
    expect(wilsonInterval(0, 0)).toEqual([0, 1]);
  });
});
