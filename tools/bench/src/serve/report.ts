/** The report on stdout: the set-up, the main table, what the measurements print after it, the targets. */
import { cpus } from 'node:os';
import type { BenchContext } from './context.ts';
import { measurementTable } from './format.ts';
import type { Measurement, Results } from './measurement.ts';
import { targetChecks, targetTable } from './targets.ts';

const meanLength = (rows: number[][]) => rows.reduce((n, row) => n + row.length, 0) / rows.length;

export function serveReport(context: BenchContext, selected: readonly Measurement[], results: Results): string {
  const reports = selected.map((measurement) => measurement.report(results.need(measurement), context));
  const setUp =
    `${cpus().length} × ${cpus()[0]?.model ?? 'CPU'}, Node ${process.version}; model.onnx ${(context.onnxBytes / 1e6).toFixed(1)} MB; ` +
    `${context.reviews.length} IMDB test texts (${meanLength(context.reviewTokens).toFixed(0)} tokens on average) and ` +
    `${context.sentences.length} SST-2 sentences (${meanLength(context.sentenceTokens).toFixed(0)}); ${context.seconds} s per measurement`;
  const rows = reports.flatMap((report) => report.rows);
  const checks = targetChecks(results);
  const sections = [
    `\n## Serving benchmark: ${context.settings.MLOPS_MODEL} ${context.version}`,
    setUp,
    ...(rows.length > 0 ? [measurementTable(rows)] : []),
    ...reports.flatMap((report) => report.after ?? []),
    ...(checks.length > 0 ? [targetTable(checks)] : []),
  ];
  return sections.join('\n\n');
}
