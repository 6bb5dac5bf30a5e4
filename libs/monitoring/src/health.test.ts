import { describe, expect, it } from 'vitest';
import type { LabelledPrediction } from './feedback.ts';
import { assessVersion } from './health.ts';
import type { PredictionRecord } from './prediction-log.ts';
import type { Reference } from './reference.ts';

const labels = ['negative', 'positive'];
/** n labelled predictions of v1, `correct` of them right. */
const labelled = (n: number, correct: number): LabelledPrediction[] =>
  Array.from({ length: n }, (_, i) => ({
    version: 'v1',
    label: 'positive',
    predicted: i < correct ? 'positive' : 'negative',
    text_hash: `h${i}`,
  }));
const assess = (rows: LabelledPrediction[], extra: { predictions?: PredictionRecord[]; reference?: Reference } = {}) =>
  assessVersion(
    { version: 'v1', labels, predictions: extra.predictions ?? [], labelled: rows, reference: extra.reference },
    { accuracyThreshold: 0.8 },
  );

describe('staleness rule', () => {
  it('calls a model stale only when the whole 95% interval is below the threshold', () => {
    // 70% right: at n = 20 the interval (0.48–0.85) still reaches 0.80, at n = 200 (0.633–0.759) it does not.
    const few = assess(labelled(20, 14));
    expect(few.status).toBe('healthy');
    expect(few.reasons[0]).toMatch(/accuracy 0\.700 \(95% CI 0\.481–0\.855, n=20\): below 0\.8, but too few labels to be sure/);
    const many = assess(labelled(200, 140));
    expect(many.status).toBe('stale');
    expect(many.reasons[0]).toMatch(/accuracy 0\.700 \(95% CI 0\.633–0\.759, n=200\) is below 0\.8 with confidence/);
  });

  it('stays healthy at or above the threshold, and without labels', () => {
    expect(assess(labelled(2000, 1650)).status).toBe('healthy');
    const none = assess([]);
    expect(none.status).toBe('healthy');
    expect(none.accuracy).toBeNull();
    expect(none.reasons).toContain('no labelled predictions in the window');
  });

  it('counts only this version’s labelled predictions', () => {
    const rows = [...labelled(200, 140).map((r) => ({ ...r, version: 'v2' })), ...labelled(50, 48)];
    expect(assess(rows).accuracy?.n).toBe(50);
  });

  it('says when drift cannot be measured, and reports drift against the reference', () => {
    expect(assess([]).reasons).toContain('v1 has no reference.json: drift not measured');
    const reference: Reference = {
      source: 'validation',
      n: 1000,
      scores: Array.from({ length: 1000 }, (_, i) => 0.5 + (i % 50) / 100),
      lengths: Array.from({ length: 1000 }, (_, i) => 600 + (i % 400)),
      unkRatios: Array.from({ length: 1000 }, () => 0.01),
      labels: Array.from({ length: 1000 }, (_, i) => labels[i % 2]!),
    };
    const short = (i: number): PredictionRecord => ({
      prediction_id: `p${i}`,
      request_id: 'r',
      time: '2026-01-01T00:00:00Z',
      model_version: 'v1',
      label: labels[i % 2]!,
      score: 0.5 + (i % 50) / 100,
      text_length: 40 + (i % 30),
      tokens: 10,
      unk_ratio: 0.01,
      text_hash: `h${i}`,
    });
    const drifting = assess([], { reference, predictions: Array.from({ length: 300 }, (_, i) => short(i)) });
    expect(drifting.status).toBe('drifting');
    expect(drifting.drift?.measures.find((m) => m.name === 'length_psi')?.drifting).toBe(true);
    expect(drifting.reasons.join(' ')).toMatch(/length/);
  });
});
