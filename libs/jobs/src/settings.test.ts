import { describe, expect, it } from 'vitest';
import { CloudRunJobLauncher } from './cloud-run/index.ts';
import { LocalProcessLauncher } from './local/index.ts';
import { SageMakerLauncher } from './sagemaker/index.ts';
import { createLauncher, JobsSettingsError, loadJobsSettings } from './settings.ts';

const local = { command: [process.execPath, 'apps/trainer/src/main.ts'], logDir: '/tmp/mlops-jobs-test' };

const sageMakerEnv = {
  JOBS_LAUNCHER: 'sagemaker',
  SAGEMAKER_REGION: 'eu-west-1',
  SAGEMAKER_ROLE_ARN: 'arn:aws:iam::123456789012:role/mlops-trainer',
  SAGEMAKER_IMAGE: '123456789012.dkr.ecr.eu-west-1.amazonaws.com/mlops-trainer:1.4.0',
  SAGEMAKER_OUTPUT_S3_URI: 's3://mlops-artifacts/sagemaker-output/',
};

describe('createLauncher', () => {
  it('defaults to the local launcher', () => {
    expect(createLauncher({}, local)).toBeInstanceOf(LocalProcessLauncher);
    expect(createLauncher({ JOBS_LAUNCHER: '' }, local).name).toBe('local');
  });

  it('builds the Cloud Run launcher from CLOUD_RUN_*', async () => {
    const env = {
      JOBS_LAUNCHER: 'cloudrun',
      CLOUD_RUN_PROJECT: 'p1',
      CLOUD_RUN_REGION: 'europe-west1',
      CLOUD_RUN_JOB: 'trainer',
      CLOUD_RUN_GPU_JOB: 'trainer-gpu',
    };
    expect(loadJobsSettings(env)).toEqual({
      launcher: 'cloudrun',
      cloudRun: { project: 'p1', region: 'europe-west1', job: 'trainer', gpuJob: 'trainer-gpu' },
    });
    const launcher = createLauncher(env, local);
    expect(launcher).toBeInstanceOf(CloudRunJobLauncher);
    await launcher.close?.();
  });

  it('builds the SageMaker launcher, with AWS_REGION when SAGEMAKER_REGION is unset', async () => {
    const env = { ...sageMakerEnv, SAGEMAKER_REGION: '', AWS_REGION: 'us-east-2', SAGEMAKER_GPU_INSTANCE_TYPE: 'ml.g6.xlarge' };
    expect(loadJobsSettings(env)).toEqual({
      launcher: 'sagemaker',
      sageMaker: {
        region: 'us-east-2',
        roleArn: sageMakerEnv.SAGEMAKER_ROLE_ARN,
        image: sageMakerEnv.SAGEMAKER_IMAGE,
        outputS3Uri: sageMakerEnv.SAGEMAKER_OUTPUT_S3_URI,
        gpuInstanceType: 'ml.g6.xlarge',
      },
    });
    expect(loadJobsSettings({ ...sageMakerEnv, AWS_REGION: 'us-east-2' })).toMatchObject({ sageMaker: { region: 'eu-west-1' } });
    const launcher = createLauncher(sageMakerEnv, local);
    expect(launcher).toBeInstanceOf(SageMakerLauncher);
    await launcher.close?.();
  });

  it('names every missing Cloud Run variable in one error', () => {
    const attempt = () => createLauncher({ JOBS_LAUNCHER: 'cloudrun', CLOUD_RUN_REGION: 'europe-west1', CLOUD_RUN_JOB: '' }, local);
    expect(attempt).toThrow(JobsSettingsError);
    expect(attempt).toThrow('invalid jobs settings for JOBS_LAUNCHER=cloudrun: missing CLOUD_RUN_PROJECT, CLOUD_RUN_JOB');
  });

  it('names every missing SageMaker variable and the malformed ones in one error', () => {
    expect(() => createLauncher({ JOBS_LAUNCHER: 'sagemaker', SAGEMAKER_OUTPUT_S3_URI: 'gs://wrong-cloud/out' }, local)).toThrow(
      'invalid jobs settings for JOBS_LAUNCHER=sagemaker: missing SAGEMAKER_REGION (or AWS_REGION), SAGEMAKER_ROLE_ARN, SAGEMAKER_IMAGE; SAGEMAKER_OUTPUT_S3_URI is not an s3:// URI',
    );
    expect(() => loadJobsSettings({ ...sageMakerEnv, SAGEMAKER_ROLE_ARN: 'mlops-trainer', SAGEMAKER_INSTANCE_TYPE: 'm5.xlarge' })).toThrow(
      /SAGEMAKER_ROLE_ARN is not an IAM role ARN; SAGEMAKER_INSTANCE_TYPE is not a SageMaker instance type/,
    );
  });

  it('rejects an unknown launcher by name', () => {
    expect(() => createLauncher({ JOBS_LAUNCHER: 'lambda' }, local)).toThrow(/JOBS_LAUNCHER.*"local"\|"cloudrun"\|"sagemaker"/);
  });
});
