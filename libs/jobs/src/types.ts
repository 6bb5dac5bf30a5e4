import { z } from 'zod';

/** A run id: lower-case letters, digits and '-', starting with a letter or digit (it names jobs and logs). */
export const runIdSchema = z.string().regex(/^[a-z0-9][a-z0-9-]{0,40}$/, 'lower-case letters, digits and "-", at most 41 characters');

export const trainingJobRequestSchema = z.object({
  runId: runIdSchema,
  /** Arguments for the trainer entry, e.g. ['--data', 's3://…', '--epochs', '2']. */
  args: z.array(z.string()),
  /** Extra environment for the job. */
  env: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'is not an environment variable name'), z.string()).optional(),
  /** Run on a GPU machine or job variant. */
  gpu: z.boolean().optional(),
});

export type TrainingJobRequest = z.input<typeof trainingJobRequestSchema>;

export type JobState = 'pending' | 'running' | 'succeeded' | 'failed';

export interface JobStatus {
  /** runId (local), execution resource name (Cloud Run), training job name (SageMaker). */
  id: string;
  launcher: 'local' | 'cloudrun' | 'sagemaker';
  state: JobState;
  /** Why it failed, or the provider's status message. */
  message?: string;
  /** Local only: the trainer's last {"phase":"result"} line. */
  result?: Record<string, unknown>;
  /** ISO 8601. */
  startedAt?: string;
  /** ISO 8601. */
  finishedAt?: string;
}

export interface JobLauncher {
  readonly name: JobStatus['launcher'];
  /** Resolves once the provider accepted the job (not when it finishes). */
  launch(request: TrainingJobRequest): Promise<JobStatus>;
  status(id: string): Promise<JobStatus>;
  /** Releases the provider clients' connections (Cloud Run, SageMaker); running jobs go on. */
  close?(): Promise<void>;
}

/** The provider refused the job or a status query: the message names the job and the provider's reason. */
export class JobLauncherError extends Error {
  readonly code = 'JOB_LAUNCHER_ERROR';
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'JobLauncherError';
  }
}

/** Validates a request once, at the launcher's edge. */
export function parseTrainingJobRequest(request: TrainingJobRequest): z.output<typeof trainingJobRequestSchema> {
  const parsed = trainingJobRequestSchema.safeParse(request);
  if (!parsed.success) throw new JobLauncherError(`invalid training job request: ${z.prettifyError(parsed.error)}`);
  return parsed.data;
}

/** The message of whatever was thrown. */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
