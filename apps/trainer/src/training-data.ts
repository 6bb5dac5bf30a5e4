import {
  DataError,
  fieldOptions,
  loadDataset,
  sortedLabels,
  UnknownLabelsError,
  type DataFields,
  type DataReport,
  type Example,
} from '@mlops/data';
import { z } from 'zod';

/** A class list as a flag gives it ("terrible,poor,good,excellent"): at least two distinct, non-empty names, in that order. */
export const labelListSchema = z
  .string()
  .transform((list) => list.split(',').map((label) => label.trim()))
  .refine((labels) => labels.every((label) => label !== ''), 'must be comma-separated label names, none empty')
  .refine((labels) => new Set(labels).size === labels.length, 'must not repeat a label')
  .refine((labels) => labels.length >= 2, 'must name at least 2 labels');

/**
 * Reads the training data and settles the model's classes: the given ones in their order (a row
 * with any other label stops the job, naming it: a fine-tuned head cannot learn a class it lacks),
 * else the sorted distinct labels of the data. `fixedBy` says where given classes come from, for the error.
 */
export async function readTrainingData(
  data: string,
  opts: DataFields & { labels?: readonly string[] | undefined; fixedBy?: string | undefined },
): Promise<{ examples: Example[]; report: DataReport; labels: string[] }> {
  const fixed = opts.labels;
  try {
    const { examples, report } = await loadDataset(data, { ...fieldOptions(opts), ...(fixed && { labels: fixed, unknownLabels: 'fail' }) });
    const labels = fixed ? [...fixed] : sortedLabels(Object.keys(report.labelCounts));
    if (labels.length < 2) {
      throw new DataError(
        `${data}: a classifier needs at least 2 classes; the data has ${labels.map((l) => `"${l}"`).join(', ') || 'none'}`,
      );
    }
    return { examples, report, labels };
  } catch (error) {
    if (error instanceof UnknownLabelsError && opts.fixedBy) {
      throw new DataError(`${opts.fixedBy}: ${error.message}`, error.report, { cause: error });
    }
    throw error;
  }
}
