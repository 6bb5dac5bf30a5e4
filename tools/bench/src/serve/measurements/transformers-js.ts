/** The transformers.js text-classification pipeline on the same model folder, at predict()'s batch sizes. */
import { env as transformersEnv, pipeline } from '@huggingface/transformers';
import { oneLine } from '../format.ts';
import { batchesOf, measure, type Speed } from '../measure.ts';
import { speedRow, type Measurement } from '../measurement.ts';
import { predictInProcessMeasurement } from './predict-in-process.ts';

const AGREEMENT_TEXTS = 64;

export interface TransformersJs {
  batches: number[];
  speeds: Map<number, Speed>;
  /** Why the pipeline could not be measured, if it could not. */
  error?: string;
  /** Share of the same labels as ours on the first reviews. */
  agreement?: number;
}

export const transformersJsMeasurement: Measurement<TransformersJs> = {
  name: 'transformers-js',
  needs: [predictInProcessMeasurement],
  usesClassifier: true,
  async run({ seconds, modelDir, threads, classifier, reviews, progress }, earlier) {
    const { batches } = earlier.need(predictInProcessMeasurement);
    const speeds = new Map<number, Speed>();
    try {
      transformersEnv.allowRemoteModels = false;
      // Every core, as our sessions use every core, so the comparison is of the code, not the settings.
      const classify = await pipeline('text-classification', modelDir, {
        dtype: 'fp32',
        device: 'cpu',
        session_options: { intraOpNumThreads: threads },
      });
      try {
        for (const size of batches) {
          const texts = batchesOf(reviews, size);
          progress(`transformers.js text-classification pipeline, batch ${size}`);
          speeds.set(size, await measure(seconds, texts.length, async (i) => (await classify(texts[i]!)).length));
        }
        // Same model and tokenizer, so the labels should match: a check that both ran the same thing.
        const theirs = await classify(reviews.slice(0, AGREEMENT_TEXTS));
        const ours = await classifier.predict(reviews.slice(0, AGREEMENT_TEXTS));
        const agreement = ours.filter((p, i) => p.label === theirs[i]?.label).length / ours.length;
        return { batches, speeds, agreement };
      } finally {
        await classify.dispose();
      }
    } catch (error) {
      progress(`transformers.js failed: ${oneLine(error)}`);
      return { batches, speeds, error: oneLine(error) };
    }
  },
  report({ batches, speeds, error, agreement }, { threads }) {
    return {
      rows: batches.map((size) =>
        speedRow(
          `transformers.js pipeline, batch ${size}`,
          speeds.get(size),
          'per call',
          error ? `failed: ${error}` : `@huggingface/transformers ${transformersEnv.version}, fp32, ${threads} threads`,
        ),
      ),
      after:
        agreement === undefined
          ? []
          : [`transformers.js and ours agree on ${(agreement * 100).toFixed(1)}% of labels (${AGREEMENT_TEXTS} texts).`],
    };
  },
};
