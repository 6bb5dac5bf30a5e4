export interface Example {
  text: string;
  /** One of `ReadOptions.labels`; undefined for unlabelled rows (`requireLabel: false`). */
  label?: string;
  id?: string;
  /** 1-based physical line of the row (for CSV, the line its record starts on). */
  line: number;
}

export interface DataReport {
  source: string;
  /** Non-blank rows read (good + bad). */
  rows: number;
  good: number;
  bad: number;
  badByReason: Record<string, number>;
  /** The first 100 bad rows. */
  badRows: { line: number; reason: string }[];
  /** Good rows whose normalized text repeats an earlier row (dropped by loadDataset, kept by readExamples; 0 with `trackRows: false`). */
  duplicates: number;
  /** Per label, over the examples handed out. */
  labelCounts: Record<string, number>;
  /** Labels outside `ReadOptions.labels` as written, with their rows (bad rows; the first 20 distinct labels). */
  unknownLabels: Record<string, number>;
  /** `fingerprint()` of the examples handed out ('' when read with `trackRows: false`). */
  fingerprint: string;
}

export type DataFormat = 'jsonl' | 'jsonl.gz' | 'csv' | 'csv.gz';

/** A local path, a file:// URI, or an already opened stream (gs://, s3:// come this way from storage). */
export type DataInput = string | { stream: NodeJS.ReadableStream; name: string };

export interface ReadOptions {
  /** Default: from the file name's extension. */
  format?: DataFormat;
  textField?: string;
  labelField?: string;
  /**
   * The classes: a label matches one by name (any case) or by index (i or "i" means labels[i]).
   * Default: any non-empty label, as written (trimmed); `sortedLabels` orders what was found.
   */
  labels?: readonly string[];
  /** A label outside `labels`: a bad row ('skip', the default) or, once the file is read, an UnknownLabelsError naming every such label ('fail'). */
  unknownLabels?: 'skip' | 'fail';
  requireLabel?: boolean;
  maxErrorRatio?: number;
  maxTextBytes?: number;
  /**
   * The longest JSONL line or CSV record read, in bytes (default 1 MiB). A longer JSONL line is a
   * bad row ("line too long"), skipped without being held in memory; a longer CSV record fails the file.
   */
  maxLineBytes?: number;
  /**
   * Remember a hash of every row, to count duplicates and compute the fingerprint (default true;
   * memory grows with the rows, ~200 bytes each). false keeps the reader's memory flat whatever the
   * file's size: `duplicates` stays 0 and `fingerprint` ''. loadDataset always tracks rows.
   */
  trackRows?: boolean;
}

/** Where the text and the label are in a data file: CSV columns or JSON keys (unset: "text" and "label"). */
export interface DataFields {
  textField?: string | undefined;
  labelField?: string | undefined;
}
