/** Cells of the report: numbers, ratios, errors, and the main table. */
import { markdownTable } from '../markdown.ts';
import type { Row } from './measurement.ts';

/** A number for a table cell; '—' for one that was not measured. */
export const fixed = (n: number | undefined, digits = 1): string => (n === undefined || !Number.isFinite(n) ? '—' : n.toFixed(digits));

export const ratio = (n: number | undefined): string => (n === undefined || !Number.isFinite(n) ? 'n/a' : `${n.toFixed(2)}x`);

/** For a table cell: the first line, no column separators. */
export function oneLine(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split('\n')[0]!.replaceAll('|', '/');
}

/** The main table: one line per row, latency cells left blank for a throughput-only row. */
export function measurementTable(rows: readonly Row[]): string {
  return markdownTable(
    [
      { title: 'measurement' },
      { title: 'texts/s', align: 'right' },
      { title: 'p50 ms', align: 'right' },
      { title: 'p99 ms', align: 'right' },
      { title: 'latency of' },
      { title: 'notes' },
    ],
    rows.map((row) => [
      row.name,
      fixed(row.textsPerSecond),
      ...(row.latency ? [fixed(row.latency.p50, 2), fixed(row.latency.p99, 2), row.latency.of] : ['', '', '']),
      row.note,
    ]),
  );
}
