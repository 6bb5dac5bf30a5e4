import type { JobsClient } from '@google-cloud/run';

/** Options of JobsClient and ExecutionsClient (google-gax ClientOptions): apiEndpoint, fallback, auth, … */
export type CloudRunClientOptions = NonNullable<ConstructorParameters<typeof JobsClient>[0]>;

export interface CloudRunLauncherOptions {
  project: string;
  region: string;
  /** The Cloud Run job that runs the trainer image (created and deployed beforehand). */
  job: string;
  /** The same trainer on a GPU; requests with gpu: true fail without it. */
  gpuJob?: string;
  /** Per-task timeout override; the job's own timeout applies without it. */
  timeoutSeconds?: number;
  /** Passed to both clients, e.g. { apiEndpoint, port, protocol: 'http', fallback: true, authClient } in tests. */
  clientOptions?: CloudRunClientOptions;
}
