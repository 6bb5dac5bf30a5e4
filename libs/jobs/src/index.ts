export { CloudRunJobLauncher, executionStatus, type CloudRunClientOptions, type CloudRunLauncherOptions } from './cloud-run/index.ts';
export { LocalProcessLauncher, type LocalLauncherOptions } from './local/index.ts';
export { SageMakerLauncher, trainingJobName, trainingJobStatus, type SageMakerLauncherOptions } from './sagemaker/index.ts';
export { createLauncher, JobsSettingsError, loadJobsSettings, type JobsSettings } from './settings.ts';
export {
  JobLauncherError,
  trainingJobRequestSchema,
  type JobLauncher,
  type JobState,
  type JobStatus,
  type TrainingJobRequest,
} from './types.ts';
