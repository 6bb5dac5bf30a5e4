export { DataError, UnknownLabelsError } from './errors.ts';
export { fingerprint, textHash } from './hash.ts';
export { DEFAULT_MAX_LINE_BYTES, splitLines, type Line } from './lines.ts';
export { fieldOptions, loadDataset, readExamples, sortedLabels } from './read.ts';
export { mulberry32, shuffled, stratifiedSplit } from './split.ts';
export type { DataFields, DataFormat, DataInput, DataReport, Example, ReadOptions } from './types.ts';
