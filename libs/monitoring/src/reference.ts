import type { Prediction, TextClassifier } from '@mlops/inference';
import { z } from 'zod';
import { predictAll } from './evaluate.ts';
import type { PredictionRecord } from './prediction-log.ts';
import { roundTo } from './rounding.ts';

/** reference.json: what the model saw and said on its validation set, the baseline for drift. */
export const ReferenceSchema = z.object({
  source: z.string(),
  n: z.number().int().nonnegative(),
  scores: z.array(z.number()),
  lengths: z.array(z.number()),
  unkRatios: z.array(z.number()),
  labels: z.array(z.string()),
});
export type Reference = z.infer<typeof ReferenceSchema>;

export function buildReference(source: string, texts: readonly string[], predictions: readonly Prediction[]): Reference {
  return {
    source,
    n: texts.length,
    scores: predictions.map((p) => roundTo(p.score, 5)),
    lengths: texts.map((t) => t.length),
    unkRatios: predictions.map((p) => roundTo(p.tokens > 0 ? p.unknownTokens / p.tokens : 0, 5)),
    labels: predictions.map((p) => p.label),
  };
}

/**
 * Scores texts and builds their reference: the trainer's from its validation set, an imported
 * version's from the texts it is given. The predictions are returned for metrics of the same pass.
 */
export async function scoreReference(
  classifier: Pick<TextClassifier, 'predict'>,
  source: string,
  texts: readonly string[],
): Promise<{ reference: Reference; predictions: Prediction[] }> {
  const predictions = await predictAll(classifier, texts);
  return { reference: buildReference(source, texts, predictions), predictions };
}

/** The same statistics from logged predictions. */
export function sampleOf(records: readonly PredictionRecord[]): Omit<Reference, 'source' | 'n'> {
  return {
    scores: records.map((r) => r.score),
    lengths: records.map((r) => r.text_length),
    unkRatios: records.map((r) => r.unk_ratio),
    labels: records.map((r) => r.label),
  };
}

/** An HF config.json read as its label names in class order (no model session needed). */
export const ConfigLabelsSchema = z.object({ id2label: z.record(z.string(), z.string()) }).transform(({ id2label }) =>
  Object.entries(id2label)
    .sort(([a], [b]) => Number(a) - Number(b))
    .map(([, label]) => label),
);
