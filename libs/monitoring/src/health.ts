import { classificationMetrics, type ClassificationMetrics } from './classification.ts';
import { driftReport, type DriftOptions, type DriftReport } from './drift.ts';
import type { LabelledPrediction } from './feedback.ts';
import type { PredictionRecord } from './prediction-log.ts';
import { sampleOf, type Reference } from './reference.ts';

export type HealthStatus = 'healthy' | 'stale' | 'drifting';

export interface HealthPolicy {
  /** Stale when the accuracy's 95% interval lies wholly below this. */
  accuracyThreshold: number;
  drift?: DriftOptions;
}

export interface VersionHealth {
  version: string;
  predictions: number;
  /** Metrics over the window's labelled predictions of this version; null without labels. */
  accuracy: ClassificationMetrics | null;
  drift: DriftReport | null;
  status: HealthStatus;
  reasons: string[];
}

/**
 * One version over one window. Stale only once the interval's upper bound is below the threshold,
 * so a handful of unlucky labels never retrains a good model; drift is judged by its own
 * sample-size-aware thresholds (see drift.ts).
 */
export function assessVersion(
  input: {
    version: string;
    labels: readonly string[];
    predictions: readonly PredictionRecord[];
    labelled: readonly LabelledPrediction[];
    reference: Reference | undefined;
  },
  policy: HealthPolicy,
): VersionHealth {
  const reasons: string[] = [];
  const mine = input.labelled.filter((r) => r.version === input.version);
  const accuracy =
    mine.length > 0
      ? classificationMetrics(
          mine.map((r) => r.label),
          mine.map((r) => r.predicted),
          input.labels,
        )
      : null;
  const stale = accuracy !== null && accuracy.accuracy_ci95[1] < policy.accuracyThreshold;
  if (accuracy) {
    const [low, high] = accuracy.accuracy_ci95;
    const summary = `accuracy ${fmt(accuracy.accuracy)} (95% CI ${fmt(low)}–${fmt(high)}, n=${accuracy.n})`;
    reasons.push(
      stale
        ? `${summary} is below ${policy.accuracyThreshold} with confidence`
        : accuracy.accuracy < policy.accuracyThreshold
          ? `${summary}: below ${policy.accuracyThreshold}, but too few labels to be sure`
          : `${summary}`,
    );
  } else reasons.push('no labelled predictions in the window');

  let drift: DriftReport | null = null;
  if (!input.reference) reasons.push(`${input.version} has no reference.json: drift not measured`);
  else if (input.predictions.length > 0) {
    drift = driftReport(input.reference, sampleOf(input.predictions), policy.drift);
    if (drift.skipped) reasons.push(drift.skipped);
    reasons.push(...drift.reasons);
  } else reasons.push('no predictions in the window');

  const status: HealthStatus = stale ? 'stale' : drift?.drifting ? 'drifting' : 'healthy';
  return { version: input.version, predictions: input.predictions.length, accuracy, drift, status, reasons };
}

function fmt(x: number): string {
  return x.toFixed(3);
}
