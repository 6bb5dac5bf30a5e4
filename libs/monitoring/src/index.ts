export { classificationMetrics, wilsonInterval, type ClassMetrics, type ClassificationMetrics } from './classification.ts';
export { evaluateOnDataset, evaluateRows, type DatasetEvaluation } from './evaluate.ts';
