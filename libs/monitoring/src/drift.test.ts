import { mulberry32 } from '@mlops/data';
import { describe, expect, it } from 'vitest';
import {
  binProportions,
  DEFAULT_DRIFT_FLOORS,
  DRIFT_MEASURES,
  driftReport,
  nullSampleSize,
  psi,
  quantileEdges,
  type DriftMeasureName,
  type DriftSample,
} from './drift.ts';

/** What a stream of predictions looks like; `draw` turns it into rows. */
interface Traffic {
  /** Share of confident predictions (score near 1); the rest spread over 0.5..1. */
  confident: number;
  /** Lengths are lognormal around this median (characters). */
  medianLength: number;
  lengthSpread: number;
  positive: number;
  /** Half the texts have no [UNK]; the others a share uniform on 0..unkMax (mean unkMax / 4 overall). */
  unkMax: number;
}

/** Long movie reviews, a confident binary classifier, balanced labels, about 2% [UNK] tokens. */
const reviews: Traffic = { confident: 0.8, medianLength: 700, lengthSpread: 0.6, positive: 0.5, unkMax: 0.08 };

function draw(traffic: Traffic, rows: number, random: () => number): DriftSample {
  const sample: DriftSample = { scores: [], lengths: [], unkRatios: [], labels: [] };
  for (let i = 0; i < rows; i++) {
    const u = random();
    sample.scores.push(random() < traffic.confident ? 1 - 0.1 * u ** 3 : 0.5 + 0.5 * u);
    const normal = Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
    sample.lengths.push(Math.max(1, Math.round(traffic.medianLength * Math.exp(traffic.lengthSpread * normal))));
    sample.unkRatios.push(random() < 0.5 ? traffic.unkMax * random() : 0);
    sample.labels.push(random() < traffic.positive ? 'positive' : 'negative');
  }
  return sample;
}

/**
 * Each trial draws its own reference of 1,250 rows as well as its window. The null allows for the
 * reference being a sample, which holds on average over references, not for every one: a reference
 * whose label share happens to sit 2 sd from the truth looks shifted to every window compared with it.
 */
function pairs(traffic: Traffic, n: number, count: number, seed: number): { reference: DriftSample; window: DriftSample }[] {
  const random = mulberry32(seed);
  return Array.from({ length: count }, () => ({ reference: draw(reviews, 1250, random), window: draw(traffic, n, random) }));
}

const noFloors = { score_psi: 0, length_psi: 0, unk_rate: 0, label_mix: 0 };

describe('psi', () => {
  it('is 0 for identical proportions', () => {
    expect(psi([0.2, 0.3, 0.5], [0.2, 0.3, 0.5])).toBe(0);
  });

  it('matches a hand-computed case', () => {
    // (0.25 - 0.5) ln(0.25 / 0.5) + (0.75 - 0.5) ln(0.75 / 0.5) = 0.25 ln 2 + 0.25 ln 1.5
    expect(psi([0.5, 0.5], [0.25, 0.75])).toBeCloseTo(0.274653, 6);
  });

  it('keeps an empty bin finite by clipping it to 1e-4', () => {
    const value = psi([0.5, 0.5], [1, 0]);
    expect(Number.isFinite(value)).toBe(true);
    expect(value).toBeCloseTo(0.5 * Math.log(2) + (1e-4 - 0.5) * Math.log(1e-4 / 0.5), 10);
    expect(psi([0.5, 0.5, 0], [0.5, 0.5, 0])).toBe(0);
  });

  it('rejects different bin counts', () => {
    expect(() => psi([0.5, 0.5], [1])).toThrow(/same bins/);
  });
});

describe('quantileEdges', () => {
  it('cuts at the deciles and puts a value equal to an edge in the bin below', () => {
    const values = Array.from({ length: 100 }, (_, i) => i + 1);
    const edges = quantileEdges(values, 10);
    expect(edges).toEqual([10, 20, 30, 40, 50, 60, 70, 80, 90]);
    expect(binProportions(values, edges)).toEqual(new Array(10).fill(0.1));
    expect(binProportions([10, 10.5], edges)).toEqual([0.5, 0.5, 0, 0, 0, 0, 0, 0, 0, 0]);
  });

  it('keeps a tied block of 60% whole in one bin and leaves no bin empty', () => {
    const random = mulberry32(3);
    const values = Array.from({ length: 1000 }, (_, i) => (i < 600 ? 0.5 : random()));
    const edges = quantileEdges(values, 10);
    expect(edges.every((e, i) => i === 0 || e > edges[i - 1]!)).toBe(true);
    expect(edges).toContain(0.5);
    const shares = binProportions(values, edges);
    expect(shares.length).toBeGreaterThanOrEqual(4);
    expect(Math.min(...shares)).toBeGreaterThanOrEqual(0.05);
    expect(shares[edges.indexOf(0.5)]).toBeGreaterThanOrEqual(0.6);
    // The bins still see a change in the tied share.
    const fewerTies = Array.from({ length: 1000 }, (_, i) => (i < 300 ? 0.5 : random()));
    expect(psi(shares, binProportions(fewerTies, edges))).toBeGreaterThan(0.1);
  });

  it('handles ties at the maximum and all-equal values', () => {
    const values = Array.from({ length: 100 }, (_, i) => (i < 60 ? 1 : i / 100));
    const edges = quantileEdges(values, 10);
    expect(Math.max(...edges)).toBeLessThan(1);
    expect(binProportions(values, edges).at(-1)).toBeCloseTo(0.6);
    expect(quantileEdges([3, 3, 3], 10)).toEqual([]);
    expect(binProportions([3, 3, 3], [])).toEqual([1]);
  });
});

describe('driftReport', () => {
  it.each([50, 200, 1000])('stays quiet on unchanged traffic at n = %i, with or without floors', (n) => {
    // Floors of 0 leave the null quantile as the threshold; the default decision is recomputed from it.
    const measures = pairs(reviews, n, 200, n).flatMap(
      ({ reference, window }) => driftReport(reference, window, { floors: noFloors }).measures,
    );
    for (const name of DRIFT_MEASURES) {
      const ofName = measures.filter((m) => m.name === name);
      const floor = DEFAULT_DRIFT_FLOORS[name];
      expect(ofName.filter((m) => m.value > m.nullQuantile).length, `${name} without floor`).toBeLessThanOrEqual(6); // 3% of 200
      expect(ofName.filter((m) => m.value > Math.max(m.nullQuantile, floor)).length, name).toBeLessThanOrEqual(6);
    }
  });

  it('is needed: a fixed PSI cut-off of 0.1 fires on most unchanged windows of 50 rows', () => {
    const fixedFires = pairs(reviews, 50, 200, 50).filter(({ reference, window }) => {
      const edges = quantileEdges(reference.scores, 10);
      return psi(binProportions(reference.scores, edges), binProportions(window.scores, edges)) > 0.1;
    }).length;
    expect(fixedFires).toBeGreaterThan(150);
  });

  it('sizes the null for the noise of window and reference together', () => {
    expect(nullSampleSize(1000, 1250)).toBe(556);
    expect(nullSampleSize(50_000, 1250)).toBe(1220);
    expect(nullSampleSize(1, 1250)).toBe(1);
  });

  const shifts: [string, Partial<Traffic>, DriftMeasureName][] = [
    ['short phrases instead of long reviews', { medianLength: 100, lengthSpread: 0.5 }, 'length_psi'],
    ['less confident scores', { confident: 0.4 }, 'score_psi'],
    ['a label mix of 80/20', { positive: 0.8 }, 'label_mix'],
    ['twice the [UNK] rate', { unkMax: 0.16 }, 'unk_rate'],
  ];
  it.each(shifts)('catches %s at n = 200', (_, shift, name) => {
    const reports = pairs({ ...reviews, ...shift }, 200, 100, 5).map(({ reference, window }) => driftReport(reference, window));
    const caught = reports.filter((report) => report.drifting && report.reasons.some((r) => r.startsWith(`${name} `)));
    expect(caught.length).toBeGreaterThanOrEqual(95);
  });

  it('does not fire on a significant but small shift at n = 20,000 (the floor works)', () => {
    const reference = draw(reviews, 1250, mulberry32(3));
    const window = draw({ ...reviews, confident: 0.68, medianLength: 600, unkMax: 0.1 }, 20_000, mulberry32(4));
    const report = driftReport(reference, window);
    expect(report.drifting).toBe(false);
    for (const name of ['score_psi', 'length_psi', 'unk_rate'] as const) {
      const m = report.measures.find((x) => x.name === name)!;
      expect(m.value, name).toBeGreaterThan(2 * m.nullQuantile);
      expect(m.value, name).toBeLessThan(m.floor);
    }
    const unfloored = driftReport(reference, window, { floors: noFloors });
    expect(unfloored.measures.filter((m) => m.drifting).map((m) => m.name)).toEqual(['score_psi', 'length_psi', 'unk_rate']);
  });

  it('names value, threshold and n in each reason', () => {
    const random = mulberry32(8);
    const report = driftReport(draw(reviews, 1250, random), draw({ ...reviews, positive: 0.9 }, 200, random));
    const m = report.measures.find((x) => x.name === 'label_mix')!;
    expect(report.reasons).toEqual([
      `label_mix is ${Number(m.value.toPrecision(3))}, above its threshold ${Number(m.threshold.toPrecision(3))} (the 99th percentile of 300 reference resamples of that size) at n = 200.`,
    ]);
    expect(m.threshold).toBe(Math.max(m.nullQuantile, m.floor));
  });

  it('counts a label only the window predicts', () => {
    const reference: DriftSample = {
      scores: [0.9, 0.8, 0.7, 0.6],
      lengths: [10, 20, 30, 40],
      unkRatios: [0, 0, 0, 0],
      labels: ['a', 'b', 'a', 'b'],
    };
    const window: DriftSample = {
      scores: [0.9, 0.8, 0.7, 0.6],
      lengths: [10, 20, 30, 40],
      unkRatios: [0, 0, 0, 0],
      labels: ['a', 'b', 'c', 'c'],
    };
    const report = driftReport(reference, window, { minRows: 4 });
    expect(report.measures.find((m) => m.name === 'label_mix')!.value).toBe(0.5);
  });

  it('is deterministic at n = 50,000', () => {
    const reference = draw(reviews, 1250, mulberry32(1));
    const window = draw(reviews, 50_000, mulberry32(2));
    const report = driftReport(reference, window);
    expect(driftReport(reference, window)).toEqual(report);
    expect(report.measures.map((m) => m.n)).toEqual([50_000, 50_000, 50_000, 50_000]);
  });

  it('skips a window below minRows', () => {
    const random = mulberry32(1);
    const report = driftReport(draw(reviews, 1250, random), draw(reviews, 29, random));
    expect(report).toEqual({
      n: 29,
      measures: [],
      drifting: false,
      reasons: [],
      skipped: expect.stringMatching(/29 rows, fewer than the 30/),
    });
  });

  it('rejects bad input', () => {
    const reference = draw(reviews, 100, mulberry32(1));
    const window = draw(reviews, 50, mulberry32(2));
    expect(() => driftReport(reference, { ...window, lengths: window.lengths.slice(1) })).toThrow(/window has 50 scores but 49 lengths/);
    expect(() => driftReport({ scores: [], lengths: [], unkRatios: [], labels: [] }, window)).toThrow(/reference holds no rows/);
    expect(() => driftReport(reference, { ...window, scores: [Number.NaN, ...window.scores.slice(1)] })).toThrow(
      /window scores\[0\] is NaN/,
    );
    expect(() => driftReport({ ...reference, unkRatios: [...reference.unkRatios.slice(1), Number.NaN] }, window)).toThrow(
      /reference unkRatios\[99\] is NaN/,
    );
    expect(() => driftReport(reference, window, { alpha: 1 })).toThrow(/alpha/);
  });
});
