export { DataError, UnknownLabelsError } from './errors.ts';
export { fingerprint, textHash } from './hash.ts';
export { loadDataset, readExamples, sortedLabels } from './read.ts';
export { mulberry32, shuffled, stratifiedSplit } from './split.ts';
export type { DataFormat, DataInput, DataReport, Example, ReadOptions } from './types.ts';
