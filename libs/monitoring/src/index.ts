export { classificationMetrics, wilsonInterval, type ClassMetrics, type ClassificationMetrics } from './classification.ts';
export { evaluateOnDataset, evaluateRows, type DatasetEvaluation } from './evaluate.ts';
export { PredictionLog, predictionLogKey, type PredictionLogOptions, type PredictionRecord } from './prediction-log.ts';
