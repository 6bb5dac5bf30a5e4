/** What one measurement of the serving benchmark is, and how measurements hand results to each other. */
import type { BenchContext } from './context.ts';
import type { Speed } from './measure.ts';

/** One line of the main table. */
export interface Row {
  name: string;
  textsPerSecond: number | undefined;
  /** Absent for a throughput-only line (its latency cells stay blank). */
  latency?: { p50: number | undefined; p99: number | undefined; of: string };
  note: string;
}

export interface MeasurementReport {
  /** Its lines in the main table. */
  rows: Row[];
  /** Printed after the main table, each after a blank line: a note, or a table of its own. */
  after?: string[];
}

export interface Measurement<Result = unknown> {
  /** Its name for --only. */
  readonly name: string;
  /** Measurements whose results `run` reads: selecting this one selects them, and they run first. */
  readonly needs?: readonly Measurement[];
  /** Whether `run` uses `context.classifier` (released once no later measurement does). */
  readonly usesClassifier?: boolean;
  run(context: BenchContext, earlier: Results): Promise<Result>;
  report(result: Result, context: BenchContext): MeasurementReport;
}

/** The results so far, each under the measurement that produced it. */
export class Results {
  private readonly byMeasurement = new Map<Measurement, unknown>();

  set<Result>(measurement: Measurement<Result>, result: Result): void {
    this.byMeasurement.set(measurement, result);
  }

  /** Undefined when `measurement` was not selected. */
  get<Result>(measurement: Measurement<Result>): Result | undefined {
    // Only set() fills the map, under the measurement whose result type it is.
    return this.byMeasurement.get(measurement) as Result | undefined;
  }

  /** For a measurement that lists `measurement` in its needs, so the runner ran it first. */
  need<Result>(measurement: Measurement<Result>): Result {
    const result = this.get(measurement);
    if (result === undefined) throw new Error(`"${measurement.name}" has not run (list it in needs)`);
    return result;
  }
}

/** A main-table line for a timed loop; '—' in every cell when it did not run (`speed` undefined). */
export const speedRow = (name: string, speed: Speed | undefined, latencyOf: string, note: string): Row => ({
  name,
  textsPerSecond: speed?.textsPerSecond,
  latency: { p50: speed?.p50, p99: speed?.p99, of: latencyOf },
  note,
});
