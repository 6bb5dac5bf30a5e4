/**
 * Serving benchmark (not a test): one run, same machine, same model (the registry champion), side by
 * side: raw onnxruntime forward passes, predict() in process, the transformers.js pipeline, predict
 * over HTTP under load, cold start per host adapter and batch-score on IMDB unsup. Prints markdown
 * tables with the ratios against the serving targets; progress goes to stderr.
 *   npm run bench:serve -- [--seconds N] [--rows N] [--quick] [--only raw,http,…] [--model DIR | --version V]
 * --only runs the named measurements (serve/measurements/index.ts) and those they need.
 * What is measured: the champion of MLOPS_STORE (default: the repo's .mlops), or that store's version
 * V, or any model folder DIR in the registry layout (both registered in a scratch store first).
 */
import { parseBenchOptions, prepareBench, progress } from './serve/context.ts';
import { MEASUREMENTS } from './serve/measurements/index.ts';
import { serveReport } from './serve/report.ts';
import { runMeasurements, selectMeasurements } from './serve/runner.ts';

const options = parseBenchOptions(process.argv.slice(2));
// Before preparing, so that a misspelt --only fails at once.
const selected = selectMeasurements(MEASUREMENTS, options.only);
progress(`measurements: ${selected.map((m) => m.name).join(', ')}`);
const bench = await prepareBench(options);
try {
  const { results, timings } = await runMeasurements(selected, bench);
  console.log(serveReport(bench.context, selected, results));
  progress(`timings: ${timings.map((t) => `${t.name} ${t.seconds.toFixed(1)} s`).join(', ')}`);
} finally {
  await bench.dispose();
}
