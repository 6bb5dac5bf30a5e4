export { SageMakerLauncher, trainingJobName, trainingJobStatus } from './launcher.ts';
export type { SageMakerLauncherOptions } from './types.ts';
