import { readExamples, type DataInput, type DataReport, type ReadOptions } from '@mlops/data';
import type { TextClassifier } from '@mlops/inference';
import { classificationMetrics, type ClassificationMetrics } from './classification.ts';

export interface DatasetEvaluation {
  metrics: ClassificationMetrics;
  data: Pick<DataReport, 'source' | 'rows' | 'bad' | 'duplicates' | 'fingerprint'>;
  seconds: number;
  rows_per_second: number;
}

/** Scores labelled rows, batched by length so that little padding is computed. */
export async function evaluateRows(
  classifier: TextClassifier,
  rows: readonly { text: string; label: string }[],
  opts: { batchSize?: number; onProgress?: (done: number, total: number) => void } = {},
): Promise<ClassificationMetrics> {
  const order = rows.map((_, i) => i).sort((a, b) => rows[a]!.text.length - rows[b]!.text.length);
  const predicted: string[] = new Array(rows.length);
  const batchSize = opts.batchSize ?? 64;
  for (let i = 0; i < order.length; i += batchSize) {
    const batch = order.slice(i, i + batchSize);
    const predictions = await classifier.predict(batch.map((r) => rows[r]!.text));
    batch.forEach((r, j) => (predicted[r] = predictions[j]!.label));
    opts.onProgress?.(Math.min(i + batchSize, order.length), order.length);
  }
  return classificationMetrics(rows.map((r) => r.label), predicted, classifier.labels);
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
