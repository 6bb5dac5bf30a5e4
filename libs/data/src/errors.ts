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
