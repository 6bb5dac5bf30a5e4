import { classificationMetrics } from '@mlops/monitoring';
import { describe, expect, it } from 'vitest';
import { gate, type GatePolicy, type ModelScores } from './gate.ts';

const labels = ['negative', 'positive'];
/** Metrics of n rows (half of each class) with the given recall per class. */
function metrics(n: number, recallNeg: number, recallPos: number) {
  const truth: string[] = [];
  const predicted: string[] = [];
  for (let i = 0; i < n / 2; i++) {
    truth.push('negative', 'positive');
    predicted.push(i < recallNeg * (n / 2) ? 'negative' : 'positive', i < recallPos * (n / 2) ? 'positive' : 'negative');
  }
  return classificationMetrics(truth, predicted, labels);
}
const policy: GatePolicy = { margin: 0.02, tolerance: 0.02, maxLatencyRatio: 1.5, minHoldout: 100 };
const scores = (holdout: [number, number] | null, base: [number, number], ms = 1): ModelScores => ({
  sets: { ...(holdout && { holdout: metrics(400, ...holdout) }), base: metrics(2000, ...base) },
  msPerText: ms,
});

describe('promotion gate', () => {
  const champion = scores([0.7, 0.7], [0.88, 0.88]);

  it('passes a candidate better on the held-out feedback and no worse on any guard', () => {
    const result = gate(scores([0.85, 0.85], [0.87, 0.88]), champion, policy);
    expect(result.pass).toBe(true);
    expect(result.primary).toBe('holdout');
    expect(result.checks.map((c) => c.name)).toEqual([
      'holdout accuracy (n=400)',
      'holdout recall of negative',
      'holdout recall of positive',
      'base accuracy (n=2000)',
      'ms per text',
    ]);
  });

  it.each([
    ['not better by the margin', scores([0.71, 0.71], [0.88, 0.88]), 'holdout accuracy (n=400)'],
    ['worse on one class', scores([1, 0.6], [0.88, 0.88]), 'holdout recall of positive'],
    ['forgetting the base domain', scores([0.85, 0.85], [0.8, 0.8]), 'base accuracy (n=2000)'],
    ['slower beyond the ratio', scores([0.85, 0.85], [0.88, 0.88], 1.6), 'ms per text'],
  ])('rejects a candidate %s', (_name, candidate, failing) => {
    const result = gate(candidate, champion, policy);
    expect(result.pass).toBe(false);
    expect(result.checks.filter((c) => !c.pass).map((c) => c.name)).toEqual([failing]);
  });

  it('lets a candidate remove the champion’s bias, trading a little recall of the class it over-predicted', () => {
    const biased = scores([0.84, 0.66], [0.88, 0.88]);
    const result = gate(scores([0.8, 0.85], [0.87, 0.87]), biased, policy);
    expect(result.pass).toBe(true);
    expect(result.checks.find((c) => c.name === 'holdout recall of negative')).toMatchObject({
      candidate: 0.8,
      champion: 0.75,
      pass: true,
    });
  });

  it('decides on the base set while too little held-out feedback exists', () => {
    const few = { ...champion, sets: { ...champion.sets, holdout: metrics(40, 0.7, 0.7) } };
    const result = gate(scores([1, 1], [0.9, 0.9]), few, policy);
    expect(result.primary).toBe('base');
    expect(result.checks[0]!.name).toBe('base accuracy (n=2000)');
    expect(result.pass).toBe(true);
  });
});
