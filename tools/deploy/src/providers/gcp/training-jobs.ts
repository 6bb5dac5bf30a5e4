/**
 * The trainer's Cloud Run Jobs (CPU and an NVIDIA L4 GPU variant, in the `gcloud run jobs replace`
 * format): not deployed by this tool, handed off in deploy/gcp/ (libs/jobs' Cloud Run launcher runs them).
 */
import type { Yamlable } from '../../yaml.ts';
import { imageNamed } from './resources.ts';
import type { GcpDeploySettings } from './settings.ts';

export interface TrainingJobOptions {
  gpu: boolean;
}

export const trainerJobName = (gpu: boolean): string => (gpu ? 'mlops-trainer-gpu' : 'mlops-trainer');

export function trainingJob(s: GcpDeploySettings, { gpu }: TrainingJobOptions): Record<string, Yamlable> {
  const image = imageNamed(`mlops-trainer-${gpu ? 'gpu' : 'cpu'}`, s);
  return {
    apiVersion: 'run.googleapis.com/v1',
    kind: 'Job',
    metadata: {
      name: trainerJobName(gpu),
      labels: { app: 'mlops', component: 'trainer' },
      // GPUs on Cloud Run Jobs are a preview-stage feature at the time of writing.
      annotations: gpu ? { 'run.googleapis.com/launch-stage': 'BETA' } : {},
    },
    spec: {
      template: {
        metadata: {
          annotations: {
            'run.googleapis.com/execution-environment': 'gen2',
            // A GPU job without zonal redundancy uses the cheaper, more available L4 quota.
            ...(gpu ? { 'run.googleapis.com/gpu-zonal-redundancy-disabled': 'true' } : {}),
          },
        },
        spec: {
          taskCount: 1,
          parallelism: 1,
          template: {
            spec: {
              serviceAccountName: s.gcp.serviceAccount,
              // retrain-trigger settles failed runs itself; a silent retry would train twice.
              maxRetries: 0,
              timeoutSeconds: 6 * 3600,
              ...(gpu ? { nodeSelector: { 'run.googleapis.com/accelerator': 'nvidia-l4' } } : {}),
              containers: [
                {
                  image,
                  env: [
                    { name: 'MLOPS_STORE', value: s.store },
                    { name: 'MLOPS_CACHE_DIR', value: '/tmp/mlops-cache' },
                  ],
                  resources: {
                    // An L4 needs at least 4 vCPU and 16 GiB on Cloud Run.
                    limits: gpu ? { cpu: '4', memory: '16Gi', 'nvidia.com/gpu': '1' } : { cpu: '4', memory: '8Gi' },
                  },
                },
              ],
            },
          },
        },
      },
    },
  };
}
