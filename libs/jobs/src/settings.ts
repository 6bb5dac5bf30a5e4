import { z } from 'zod';
import { CloudRunJobLauncher, type CloudRunLauncherOptions } from './cloud-run/index.ts';
import { LocalProcessLauncher, type LocalLauncherOptions } from './local/index.ts';
import { SageMakerLauncher, type SageMakerLauncherOptions } from './sagemaker/index.ts';
import type { JobLauncher } from './types.ts';

const MISSING = 'missing';

/** Unset and empty are the same thing in an environment (`FOO=` in a .env file). */
const unsetIfEmpty = (value: unknown) => (value === '' ? undefined : value);
const required = () => z.preprocess(unsetIfEmpty, z.string({ error: (issue) => (issue.input === undefined ? MISSING : undefined) }));
const optional = () => z.preprocess(unsetIfEmpty, z.string().optional());

const launcherSchema = z.object({
  JOBS_LAUNCHER: z.preprocess(unsetIfEmpty, z.enum(['local', 'cloudrun', 'sagemaker']).default('local')),
});

const cloudRunSchema = z.object({
  CLOUD_RUN_PROJECT: required(),
  CLOUD_RUN_REGION: required(),
  CLOUD_RUN_JOB: required(),
  CLOUD_RUN_GPU_JOB: optional(),
});

const sageMakerSchema = z.object({
  // AWS_REGION (set inside AWS compute) stands in for it: see loadJobsSettings.
  SAGEMAKER_REGION: required(),
  SAGEMAKER_ROLE_ARN: required().pipe(z.string().regex(/^arn:aws[a-z-]*:iam::\d{12}:role\/.+$/, 'is not an IAM role ARN')),
  SAGEMAKER_IMAGE: required(),
  SAGEMAKER_INSTANCE_TYPE: optional().pipe(z.string().startsWith('ml.', 'is not a SageMaker instance type (ml.*)').optional()),
  SAGEMAKER_GPU_INSTANCE_TYPE: optional().pipe(z.string().startsWith('ml.', 'is not a SageMaker instance type (ml.*)').optional()),
  SAGEMAKER_OUTPUT_S3_URI: required().pipe(z.string().startsWith('s3://', 'is not an s3:// URI')),
});

/** How a missing variable is named when another one can stand in for it. */
const MISSING_LABELS: Record<string, string> = { SAGEMAKER_REGION: 'SAGEMAKER_REGION (or AWS_REGION)' };

export type JobsSettings =
  | { launcher: 'local' }
  | { launcher: 'cloudrun'; cloudRun: Omit<CloudRunLauncherOptions, 'clientOptions'> }
  | { launcher: 'sagemaker'; sageMaker: Omit<SageMakerLauncherOptions, 'client' | 'endpoint'> };

export class JobsSettingsError extends Error {
  readonly code = 'SETTINGS_ERROR';
  constructor(message: string) {
    super(message);
    this.name = 'JobsSettingsError';
  }
}

/** JOBS_LAUNCHER (default local) and the chosen launcher's own variables; all problems in one error. */
export function loadJobsSettings(env: NodeJS.ProcessEnv): JobsSettings {
  const { JOBS_LAUNCHER: launcher } = parseOrThrow(launcherSchema, env, 'JOBS_LAUNCHER');
  switch (launcher) {
    case 'local':
      return { launcher };
    case 'cloudrun': {
      const s = parseOrThrow(cloudRunSchema, env, 'JOBS_LAUNCHER=cloudrun');
      return {
        launcher,
        cloudRun: {
          project: s.CLOUD_RUN_PROJECT,
          region: s.CLOUD_RUN_REGION,
          job: s.CLOUD_RUN_JOB,
          ...(s.CLOUD_RUN_GPU_JOB ? { gpuJob: s.CLOUD_RUN_GPU_JOB } : {}),
        },
      };
    }
    case 'sagemaker': {
      const region = env.SAGEMAKER_REGION || env.AWS_REGION;
      const s = parseOrThrow(sageMakerSchema, { ...env, SAGEMAKER_REGION: region }, 'JOBS_LAUNCHER=sagemaker');
      return {
        launcher,
        sageMaker: {
          region: s.SAGEMAKER_REGION,
          roleArn: s.SAGEMAKER_ROLE_ARN,
          image: s.SAGEMAKER_IMAGE,
          outputS3Uri: s.SAGEMAKER_OUTPUT_S3_URI,
          ...(s.SAGEMAKER_INSTANCE_TYPE ? { instanceType: s.SAGEMAKER_INSTANCE_TYPE } : {}),
          ...(s.SAGEMAKER_GPU_INSTANCE_TYPE ? { gpuInstanceType: s.SAGEMAKER_GPU_INSTANCE_TYPE } : {}),
        },
      };
    }
  }
}

/** The launcher JOBS_LAUNCHER names, configured from env; `local` says how to run the trainer here. */
export function createLauncher(env: NodeJS.ProcessEnv, local: LocalLauncherOptions): JobLauncher {
  const settings = loadJobsSettings(env);
  switch (settings.launcher) {
    case 'local':
      return new LocalProcessLauncher(local);
    case 'cloudrun':
      return new CloudRunJobLauncher(settings.cloudRun);
    case 'sagemaker':
      return new SageMakerLauncher(settings.sageMaker);
  }
}

function parseOrThrow<T extends z.ZodType>(schema: T, env: NodeJS.ProcessEnv, context: string): z.output<T> {
  const parsed = schema.safeParse(env);
  if (parsed.success) return parsed.data;
  const missing: string[] = [];
  const invalid: string[] = [];
  for (const issue of parsed.error.issues) {
    const name = issue.path.map(String).join('.');
    if (issue.message === MISSING) missing.push(MISSING_LABELS[name] ?? name);
    else invalid.push(`${name} ${issue.message}`);
  }
  const problems = [missing.length ? `missing ${missing.join(', ')}` : '', ...invalid].filter(Boolean);
  throw new JobsSettingsError(`invalid jobs settings for ${context}: ${problems.join('; ')}`);
}
