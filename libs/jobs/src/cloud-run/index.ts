export { CloudRunJobLauncher, executionStatus } from './launcher.ts';
export type { CloudRunClientOptions, CloudRunLauncherOptions } from './types.ts';
