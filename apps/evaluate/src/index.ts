export { createEvaluateApp } from './app.ts';
export { evaluateOnce, type EvaluatorDeps, type RetrainRequest } from './evaluation.ts';
export { createEvaluateService } from './service.ts';
export { startNodeHost } from './hosts/node.ts';
