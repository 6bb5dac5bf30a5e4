import {
  CreateTrainingJobCommand,
  DescribeTrainingJobCommand,
  SageMakerClient,
  type DescribeTrainingJobResponse,
  type TrainingInstanceType,
} from '@aws-sdk/client-sagemaker';
import {
  errorMessage,
  JobLauncherError,
  parseTrainingJobRequest,
  type JobLauncher,
  type JobState,
  type JobStatus,
  type TrainingJobRequest,
} from '../types.ts';
import type { SageMakerLauncherOptions } from './types.ts';

const DEFAULT_INSTANCE_TYPE = 'ml.m5.xlarge';
const DEFAULT_GPU_INSTANCE_TYPE = 'ml.g5.xlarge';
const DEFAULT_MAX_RUNTIME_SECONDS = 24 * 60 * 60;
/** Room for the model checkpoint, the base model and pip caches; the data is streamed from the store. */
const VOLUME_SIZE_GB = 30;

// InProgress covers provisioning too: until SecondaryStatus reaches Training the trainer has not started.
const NOT_YET_TRAINING = new Set([
  'Starting',
  'Pending',
  'LaunchingMLInstances',
  'PreparingTrainingStack',
  'Downloading',
  'DownloadingTrainingImage',
]);

/** Runs the trainer image as a SageMaker training job. */
export class SageMakerLauncher implements JobLauncher {
  readonly name = 'sagemaker' as const;
  private readonly client: SageMakerClient;

  constructor(private readonly opts: SageMakerLauncherOptions) {
    this.client = opts.client ?? new SageMakerClient({ region: opts.region, ...(opts.endpoint ? { endpoint: opts.endpoint } : {}) });
  }

  /** Resolves once SageMaker has accepted the job; the training job name is the id. */
  async launch(request: TrainingJobRequest): Promise<JobStatus> {
    const { runId, args, env, gpu } = parseTrainingJobRequest(request);
    const name = trainingJobName(runId);
    const { opts } = this;
    // Instance types are a closed enum in the SDK, but new ones appear before the SDK knows them.
    const instanceType = (
      gpu ? (opts.gpuInstanceType ?? DEFAULT_GPU_INSTANCE_TYPE) : (opts.instanceType ?? DEFAULT_INSTANCE_TYPE)
    ) as TrainingInstanceType;
    try {
      await this.client.send(
        new CreateTrainingJobCommand({
          TrainingJobName: name,
          AlgorithmSpecification: { TrainingImage: opts.image, TrainingInputMode: 'File', ContainerArguments: args },
          ...(env && Object.keys(env).length > 0 ? { Environment: env } : {}),
          RoleArn: opts.roleArn,
          ResourceConfig: { InstanceType: instanceType, InstanceCount: 1, VolumeSizeInGB: VOLUME_SIZE_GB },
          StoppingCondition: { MaxRuntimeInSeconds: opts.maxRuntimeSeconds ?? DEFAULT_MAX_RUNTIME_SECONDS },
          OutputDataConfig: { S3OutputPath: opts.outputS3Uri },
        }),
      );
    } catch (error) {
      throw new JobLauncherError(`SageMaker did not create training job ${name}: ${awsErrorMessage(error)}`, { cause: error });
    }
    return { id: name, launcher: 'sagemaker', state: 'pending' };
  }

  /** id: the training job name. */
  async status(id: string): Promise<JobStatus> {
    try {
      const job = await this.client.send(new DescribeTrainingJobCommand({ TrainingJobName: id }));
      return trainingJobStatus({ ...job, TrainingJobName: job.TrainingJobName ?? id });
    } catch (error) {
      throw new JobLauncherError(`Cannot read SageMaker training job ${id}: ${awsErrorMessage(error)}`, { cause: error });
    }
  }

  /** Releases the client's sockets, unless the client was passed in. */
  async close(): Promise<void> {
    if (!this.opts.client) this.client.destroy();
  }
}

/**
 * SageMaker names allow [a-zA-Z0-9-], ≤ 63 characters, starting and ending with a letter or digit:
 * a runId (≤ 41 of [a-z0-9-]) fits as it is but for a trailing '-'.
 */
export function trainingJobName(runId: string): string {
  return runId.replace(/-+$/, '');
}

export function trainingJobStatus(job: DescribeTrainingJobResponse): JobStatus {
  const secondary = job.SecondaryStatus;
  const lastTransition = job.SecondaryStatusTransitions?.at(-1)?.StatusMessage;
  let state: JobState;
  let message: string | undefined;
  switch (job.TrainingJobStatus) {
    case 'Completed':
      state = 'succeeded';
      break;
    case 'Failed':
      state = 'failed';
      message = job.FailureReason || lastTransition || 'training job failed';
      break;
    case 'Stopped':
      // Stopped by StopTrainingJob or by MaxRuntimeInSeconds (SecondaryStatus MaxRuntimeExceeded).
      state = 'failed';
      message = job.FailureReason || `training job stopped (${secondary ?? 'Stopped'})`;
      break;
    case 'Stopping':
      state = 'running';
      message = 'stopping';
      break;
    case 'InProgress':
      state = secondary && NOT_YET_TRAINING.has(secondary) ? 'pending' : 'running';
      message = lastTransition;
      break;
    default:
      state = 'failed';
      message = `unexpected training job status ${job.TrainingJobStatus ?? '(none)'}`;
  }
  const startedAt = job.TrainingStartTime?.toISOString();
  const finishedAt = job.TrainingEndTime?.toISOString();
  return {
    id: job.TrainingJobName ?? '',
    launcher: 'sagemaker',
    state,
    ...(message ? { message } : {}),
    ...(startedAt ? { startedAt } : {}),
    ...(finishedAt ? { finishedAt } : {}),
  };
}

/** "ValidationException: <the service's message>" */
function awsErrorMessage(error: unknown): string {
  if (error instanceof Error && error.name !== 'Error') return `${error.name}: ${error.message}`;
  return errorMessage(error);
}
