/** TextClassifier.predict in this process (tokenize + forward), at batch 1 and at raw passes' best batch. */
import { batchesOf, measure, type Speed } from '../measure.ts';
import { speedRow, type Measurement } from '../measurement.ts';
import { rawPassesMeasurement } from './raw-passes.ts';

export interface PredictInProcess {
  /** The batch sizes measured: 1, and raw passes' best batch. */
  batches: number[];
  speeds: Map<number, Speed>;
}

export const predictInProcessMeasurement: Measurement<PredictInProcess> = {
  name: 'predict',
  needs: [rawPassesMeasurement],
  usesClassifier: true,
  async run({ seconds, classifier, reviews, progress }, earlier) {
    const { bestBatch } = earlier.need(rawPassesMeasurement);
    const batches = bestBatch === 1 ? [1] : [1, bestBatch];
    const speeds = new Map<number, Speed>();
    for (const size of batches) {
      const texts = batchesOf(reviews, size);
      progress(`TextClassifier.predict (tokenize + forward), batch ${size}`);
      speeds.set(size, await measure(seconds, texts.length, async (i) => (await classifier.predict(texts[i]!)).length));
    }
    return { batches, speeds };
  },
  report({ batches, speeds }, { classifier }) {
    const { sessions, threads } = classifier.layout;
    const note = `tokenize + forward; default sessions: ${sessions} × ${threads} thread${threads === 1 ? '' : 's'}`;
    return {
      rows: batches.map((size) => speedRow(`TextClassifier.predict, batch ${size}`, speeds.get(size), 'per call', note)),
    };
  },
};
