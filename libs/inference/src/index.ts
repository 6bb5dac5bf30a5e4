export { ModelLoadError, TextClassifier, type Prediction } from './classifier.ts';
