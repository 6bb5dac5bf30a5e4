import type { DataReport } from './types.ts';

export class DataError extends Error {
  readonly code = 'DATA_ERROR';
  /** Set when the error is about bad rows, so callers can log the full report. */
  readonly report: DataReport | undefined;

  constructor(message: string, report?: DataReport, options?: ErrorOptions) {
    super(message, options);
    this.name = 'DataError';
    this.report = report;
  }
}

/** Rows whose label is none of the classes (read with `unknownLabels: 'fail'`): names each such label. */
export class UnknownLabelsError extends DataError {
  /** The labels as written in the data, most frequent first. */
  readonly unknown: string[];

  constructor(
    report: DataReport,
    readonly classes: readonly string[],
  ) {
    const unknown = Object.entries(report.unknownLabels).sort((a, b) => b[1] - a[1]);
    const named = unknown.map(([label, rows]) => `"${label}" (${rows} ${rows === 1 ? 'row' : 'rows'})`).join(', ');
    super(`${report.source}: ${unknown.length === 1 ? 'label' : 'labels'} ${named} not among the classes ${classes.join(', ')}`, report);
    this.name = 'UnknownLabelsError';
    this.unknown = unknown.map(([label]) => label);
  }
}
