export { createPromoteApp } from './app.ts';
export { AlreadyChampionError, CanaryRunningError, NoEarlierChampionError } from './errors.ts';
export { gate, type GatePolicy, type GateResult, type ModelScores } from './gate.ts';
export { considerCandidate, reviewCanary, rollbackChampion, type PromoteDeps } from './promote.ts';
export { createPromoteService, promoteDeps } from './service.ts';
export { startNodeHost } from './hosts/node.ts';
