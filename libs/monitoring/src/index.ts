export { classificationMetrics, wilsonInterval, type ClassMetrics, type ClassificationMetrics } from './classification.ts';
export { driftReport, psi, type DriftMeasure, type DriftOptions, type DriftReport, type DriftSample } from './drift.ts';
export { evaluateOnDataset, evaluateRows, predictAll, type DatasetEvaluation } from './evaluate.ts';
export {
  dedupeFeedback,
  feedbackId,
  feedbackTexts,
  fromTrustedCallers,
  FeedbackRecordSchema,
  importFeedbackFiles,
  isHoldout,
  joinFeedback,
  PredictionLookup,
  writeFeedback,
  type FeedbackRecord,
  type ImportReport,
  type LabelledPrediction,
} from './feedback.ts';
export { assessVersion, type HealthPolicy, type HealthStatus, type VersionHealth } from './health.ts';
export { logKey, readLogAll, readLogObject, readLogWindow, toJsonl, type LogKind, type LogRead, type LogWindow } from './logs.ts';
export {
  PredictionLog,
  predictionLogKey,
  PredictionRecordSchema,
  type PredictionLogOptions,
  type PredictionRecord,
} from './prediction-log.ts';
export { buildReference, ConfigLabelsSchema, ReferenceSchema, sampleOf, scoreReference, type Reference } from './reference.ts';
export { roundTo } from './rounding.ts';
export {
  EvaluationRecordSchema,
  latestEvaluation,
  readEvaluations,
  summarizeHealth,
  writeEvaluation,
  type EvaluationRecord,
} from './evaluations.ts';
export { BoundedMap, type BoundedMapOptions } from './bounded-map.ts';
