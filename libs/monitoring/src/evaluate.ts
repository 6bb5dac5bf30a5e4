import { readExamples, type DataInput, type DataReport, type ReadOptions } from '@mlops/data';
import type { Prediction, TextClassifier } from '@mlops/inference';
import { classificationMetrics, type ClassificationMetrics } from './classification.ts';

export interface DatasetEvaluation {
  metrics: ClassificationMetrics;
  data: Pick<DataReport, 'source' | 'rows' | 'bad' | 'duplicates' | 'fingerprint'>;
  seconds: number;
  rows_per_second: number;
}

interface BatchOptions {
  batchSize?: number;
  onProgress?: (done: number, total: number) => void;
}

/** Predicts many texts in batches of similar length (little padding computed), in input order. */
export async function predictAll(
  classifier: Pick<TextClassifier, 'predict'>,
  texts: readonly string[],
  opts: BatchOptions = {},
): Promise<Prediction[]> {
  const order = texts.map((_, i) => i).sort((a, b) => texts[a]!.length - texts[b]!.length);
  const predictions: Prediction[] = new Array(texts.length);
  const batchSize = opts.batchSize ?? 64;
  for (let i = 0; i < order.length; i += batchSize) {
    const batch = order.slice(i, i + batchSize);
    const out = await classifier.predict(batch.map((r) => texts[r]!));
    batch.forEach((r, j) => (predictions[r] = out[j]!));
    opts.onProgress?.(Math.min(i + batchSize, order.length), order.length);
  }
  return predictions;
}

/** Scores labelled rows and returns accuracy, precision, recall and F1. */
export async function evaluateRows(
  classifier: Pick<TextClassifier, 'predict' | 'labels'>,
  rows: readonly { text: string; label: string }[],
  opts: BatchOptions = {},
): Promise<ClassificationMetrics> {
  const predictions = await predictAll(
    classifier,
    rows.map((r) => r.text),
    opts,
  );
  return classificationMetrics(
    rows.map((r) => r.label),
    predictions.map((p) => p.label),
    classifier.labels,
  );
}

/**
 * Scores every labelled row of a data set (duplicates included: a test set is taken as published)
 * and returns accuracy, precision, recall and F1.
 */
export async function evaluateOnDataset(
  classifier: TextClassifier,
  input: DataInput,
  opts: { read?: ReadOptions; batchSize?: number; onProgress?: (done: number, total: number) => void } = {},
): Promise<DatasetEvaluation> {
  const start = performance.now();
  const rows: { text: string; label: string }[] = [];
  const reader = readExamples(input, { labels: classifier.labels, ...opts.read, requireLabel: true });
  let next = await reader.next();
  for (; !next.done; next = await reader.next()) rows.push({ text: next.value.text, label: next.value.label! });
  const report = next.value;
  const metrics = await evaluateRows(classifier, rows, opts);
  const seconds = (performance.now() - start) / 1000;
  return {
    metrics,
    data: { source: report.source, rows: report.rows, bad: report.bad, duplicates: report.duplicates, fingerprint: report.fingerprint },
    seconds,
    rows_per_second: rows.length / seconds,
  };
}
