/** Every measurement of the serving benchmark, in the order they run and report. */
import type { Measurement } from '../measurement.ts';
import { batchScoreMeasurement } from './batch-score.ts';
import { coldStartMeasurement } from './cold-start.ts';
import { httpLoadMeasurement } from './http-load.ts';
import { predictInProcessMeasurement } from './predict-in-process.ts';
import { rawPassesMeasurement } from './raw-passes.ts';
import { transformersJsMeasurement } from './transformers-js.ts';

export const MEASUREMENTS: readonly Measurement[] = [
  rawPassesMeasurement,
  predictInProcessMeasurement,
  transformersJsMeasurement,
  httpLoadMeasurement,
  coldStartMeasurement,
  batchScoreMeasurement,
];
