/**
 * Raw onnxruntime forward passes on pre-tokenized, length-sorted batches: one session on this thread
 * using every core, no worker hop, as a user of onnxruntime-node would write it; then one
 * single-threaded session per core, side by side in worker threads.
 */
import { TextClassifier } from '@mlops/inference';
import { batchesOf, measure, type Speed } from '../measure.ts';
import { speedRow, type Measurement } from '../measurement.ts';

const BATCHES = [1, 8, 16, 32, 64];
const SENTENCE_BATCHES = [1, 64];
/** Batch sizes for sessions side by side (worker threads, one intra-op thread each). */
const PARALLEL_BATCHES = [1, 8];

export interface RawPasses {
  /** One session on the event loop, on reviews, by batch size. */
  reviews: Map<number, Speed>;
  sentences: Map<number, Speed>;
  /** One session per core side by side, on reviews. */
  parallel: Map<number, Speed>;
  /** The batch size where one session handles the most reviews per second. */
  bestBatch: number;
  /** The most reviews per second of any raw line: the batched limit. */
  limit: number;
}

async function rawPasses(seconds: number, model: TextClassifier, tokens: number[][], size: number, parallel: number): Promise<Speed> {
  const rows = batchesOf(tokens, size);
  // pad() per pass: a pass hands its buffers to the worker that runs it.
  return measure(
    seconds,
    rows.length,
    async (i) => {
      const padded = model.pad(rows[i]!);
      await model.logits(padded.inputIds, padded.attentionMask, padded.batch, padded.seq);
      return padded.batch;
    },
    parallel,
  );
}

export const rawPassesMeasurement: Measurement<RawPasses> = {
  name: 'raw',
  async run({ seconds, modelDir, threads, reviewTokens, sentenceTokens, progress }) {
    const inline = await TextClassifier.load(modelDir, { threads, sessions: 0 });
    const perCore = await TextClassifier.load(modelDir, { threads: 1, sessions: threads });
    const reviews = new Map<number, Speed>();
    const sentences = new Map<number, Speed>();
    const parallel = new Map<number, Speed>();
    try {
      for (const size of BATCHES) {
        progress(`raw forward passes, batch ${size}`);
        reviews.set(size, await rawPasses(seconds, inline, reviewTokens, size, 1));
      }
      for (const size of SENTENCE_BATCHES) {
        progress(`raw forward passes, SST-2 sentences, batch ${size}`);
        sentences.set(size, await rawPasses(seconds, inline, sentenceTokens, size, 1));
      }
      for (const size of PARALLEL_BATCHES) {
        progress(`raw forward passes, ${threads} sessions side by side, batch ${size}`);
        parallel.set(size, await rawPasses(seconds, perCore, reviewTokens, size, threads));
      }
    } finally {
      await Promise.all([inline.release(), perCore.release()]);
    }
    const [bestBatch] = [...reviews].reduce((best, entry) => (entry[1].textsPerSecond > best[1].textsPerSecond ? entry : best));
    const limit = Math.max(...[...reviews.values(), ...parallel.values()].map((speed) => speed.textsPerSecond));
    return { reviews, sentences, parallel, bestBatch, limit };
  },
  report(raw, { threads }) {
    return {
      rows: [
        ...BATCHES.map((size) =>
          speedRow(
            `raw onnxruntime forward, batch ${size}`,
            raw.reviews.get(size),
            'per pass',
            `one session, ${threads} threads, on the event loop; pre-tokenized, length-sorted`,
          ),
        ),
        ...SENTENCE_BATCHES.map((size) =>
          speedRow(`raw onnxruntime forward, SST-2, batch ${size}`, raw.sentences.get(size), 'per pass', 'the same, on SST-2 sentences'),
        ),
        ...PARALLEL_BATCHES.map((size) =>
          speedRow(
            `raw onnxruntime forward, ${threads} sessions side by side, batch ${size}`,
            raw.parallel.get(size),
            'per pass',
            '1 thread each, worker threads; pre-tokenized, length-sorted',
          ),
        ),
      ],
    };
  },
};
