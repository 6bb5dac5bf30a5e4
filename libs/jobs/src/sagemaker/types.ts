import type { SageMakerClient } from '@aws-sdk/client-sagemaker';

export interface SageMakerLauncherOptions {
  region: string;
  /** The execution role the training job assumes (reads data, writes the registry and OutputDataConfig). */
  roleArn: string;
  /** The trainer image in ECR; its entrypoint runs apps/trainer/src/main.ts with the request's args. */
  image: string;
  /** Default ml.m5.xlarge. */
  instanceType?: string;
  /** For requests with gpu: true; default ml.g5.xlarge. */
  gpuInstanceType?: string;
  /** Where SageMaker puts /opt/ml/model and /opt/ml/output (the registry is written by the trainer itself). */
  outputS3Uri: string;
  /** Default 24 h, SageMaker's own default; the job is stopped after it. */
  maxRuntimeSeconds?: number;
  /** A custom endpoint, e.g. http://127.0.0.1:PORT in tests or a VPC endpoint. */
  endpoint?: string;
  /** A ready client (its region and endpoint win over the ones above); the launcher does not destroy it. */
  client?: SageMakerClient;
}
