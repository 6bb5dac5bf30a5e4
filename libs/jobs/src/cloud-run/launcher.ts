import { ExecutionsClient, JobsClient, type protos } from '@google-cloud/run';
import {
  errorMessage,
  JobLauncherError,
  parseTrainingJobRequest,
  type JobLauncher,
  type JobState,
  type JobStatus,
  type TrainingJobRequest,
} from '../types.ts';
import type { CloudRunLauncherOptions } from './types.ts';

type Execution = protos.google.cloud.run.v2.IExecution;
type Timestamp = protos.google.protobuf.ITimestamp;

// Condition.State by number: the REST transport decodes enums to names, but the runJob operation's
// metadata is decoded from protobuf bytes and keeps the numbers.
const CONDITION_STATES = ['STATE_UNSPECIFIED', 'CONDITION_PENDING', 'CONDITION_RECONCILING', 'CONDITION_FAILED', 'CONDITION_SUCCEEDED'];

/** Starts executions of an existing Cloud Run job, with the run's arguments as container overrides. */
export class CloudRunJobLauncher implements JobLauncher {
  readonly name = 'cloudrun' as const;
  private readonly jobs: JobsClient;
  private readonly executions: ExecutionsClient;

  constructor(private readonly opts: CloudRunLauncherOptions) {
    this.jobs = new JobsClient(opts.clientOptions);
    this.executions = new ExecutionsClient(opts.clientOptions);
  }

  /** Resolves once Cloud Run has created the execution; its resource name is the id. */
  async launch(request: TrainingJobRequest): Promise<JobStatus> {
    const { runId, args, env, gpu } = parseTrainingJobRequest(request);
    const job = gpu ? this.opts.gpuJob : this.opts.job;
    if (!job)
      throw new JobLauncherError(
        `Training job ${runId} asks for a GPU, but no Cloud Run GPU job is configured (gpuJob / CLOUD_RUN_GPU_JOB)`,
      );
    const name = this.jobs.jobPath(this.opts.project, this.opts.region, job);

    const operation = await this.jobs
      .runJob({
        name,
        overrides: {
          containerOverrides: [
            {
              args,
              // Without it an empty list would leave the job's own default args in place.
              ...(args.length === 0 ? { clearArgs: true } : {}),
              env: Object.entries(env ?? {}).map(([key, value]) => ({ name: key, value })),
            },
          ],
          taskCount: 1,
          ...(this.opts.timeoutSeconds ? { timeout: { seconds: this.opts.timeoutSeconds } } : {}),
        },
      })
      .then(
        ([started]) => started,
        (error: unknown) => {
          throw new JobLauncherError(`Cloud Run did not run ${name} for training job ${runId}: ${errorMessage(error)}`, { cause: error });
        },
      );
    // The operation only finishes with the execution; its metadata is the Execution from the start.
    // (gax types metadata as gRPC Metadata, but runJob's descriptor decodes it as an Execution.)
    const execution = operation.metadata as unknown as Execution | null;
    if (!execution?.name) {
      throw new JobLauncherError(
        `Cloud Run ran ${name} for training job ${runId} but named no execution (operation ${operation.name ?? '?'})`,
      );
    }
    return executionStatus(execution);
  }

  /** id: projects/P/locations/R/jobs/J/executions/E */
  async status(id: string): Promise<JobStatus> {
    try {
      const [execution] = await this.executions.getExecution({ name: id });
      return executionStatus({ ...execution, name: execution.name || id });
    } catch (error) {
      throw new JobLauncherError(`Cannot read Cloud Run execution ${id}: ${errorMessage(error)}`, { cause: error });
    }
  }

  async close(): Promise<void> {
    await Promise.all([this.jobs.close(), this.executions.close()]);
  }
}

/** An execution's state: its "Completed" condition once it has one, its task counts before. */
export function executionStatus(execution: Execution): JobStatus {
  const conditions = execution.conditions ?? [];
  const completed = conditions.find((condition) => condition.type === 'Completed');
  const completedState = conditionState(completed?.state);
  const failedTasks = (execution.failedCount ?? 0) + (execution.cancelledCount ?? 0);

  let state: JobState;
  if (completedState === 'CONDITION_SUCCEEDED') state = 'succeeded';
  else if (completedState === 'CONDITION_FAILED') state = 'failed';
  else if (execution.completionTime) state = failedTasks > 0 || !execution.succeededCount ? 'failed' : 'succeeded';
  else if ((execution.runningCount ?? 0) > 0 || execution.startTime) state = 'running';
  else state = 'pending';

  const failedCondition = conditions.find((condition) => conditionState(condition.state) === 'CONDITION_FAILED' && condition.message);
  let message = completed?.message || undefined;
  if (state === 'failed') {
    message ||= failedCondition?.message || `${failedTasks} task(s) failed or were cancelled`;
  }
  const startedAt = toIso(execution.startTime);
  const finishedAt = toIso(execution.completionTime);
  return {
    id: execution.name ?? '',
    launcher: 'cloudrun',
    state,
    ...(message ? { message } : {}),
    ...(startedAt ? { startedAt } : {}),
    ...(finishedAt ? { finishedAt } : {}),
  };
}

function conditionState(state: unknown): string | undefined {
  if (typeof state === 'number') return CONDITION_STATES[state];
  return typeof state === 'string' ? state : undefined;
}

/** Timestamps come as { seconds, nanos }, seconds a number, a string or a Long depending on the decoder. */
function toIso(timestamp: Timestamp | null | undefined): string | undefined {
  if (!timestamp) return undefined;
  const seconds = Number(String(timestamp.seconds ?? 0));
  return new Date(seconds * 1000 + Math.floor((timestamp.nanos ?? 0) / 1e6)).toISOString();
}
