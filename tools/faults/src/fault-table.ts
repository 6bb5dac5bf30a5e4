// The fault table: each test records what it injected, what it saw, how many requests failed and
// the state it left; the global setup's teardown writes them as one Markdown table.
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { inject } from 'vitest';

declare module 'vitest' {
  export interface ProvidedContext {
    faultsDir: string;
  }
}

export interface FaultRow {
  /** Sorts the table: the test file's place in the suite. */
  group: number;
  fault: string;
  observed: string;
  /** Requests (or calls) that failed during the fault. */
  failed: number;
  /** The state afterwards, as checked. */
  after: string;
}

export const ROWS_FILE = 'rows.jsonl';

/** Adds a row to this run's table (one JSON line, so test files running in parallel do not clash). */
export function recordFault(row: FaultRow): void {
  appendFileSync(join(inject('faultsDir'), ROWS_FILE), `${JSON.stringify(row)}\n`);
}

const cell = (text: string | number) => String(text).replaceAll('|', '\\|').replaceAll('\n', ' ');

export function faultTable(rows: readonly FaultRow[]): string {
  const sorted = rows.map((row, i) => ({ row, i })).sort((a, b) => a.row.group - b.row.group || a.i - b.i);
  return [
    '| fault | observed | requests failed | state after |',
    '| ----- | -------- | --------------: | ----------- |',
    ...sorted.map(({ row }) => `| ${cell(row.fault)} | ${cell(row.observed)} | ${cell(row.failed)} | ${cell(row.after)} |`),
  ].join('\n');
}

/** Milliseconds since `start`, rounded. */
export const since = (start: number): number => Math.round(performance.now() - start);
