/** A complete environment for a real GCP deploy in tests (project p1, europe-west1, the key by reference). */
export const gcpEnv = {
  GCP_PROJECT: 'p1',
  GCP_PROJECT_NUMBER: '123456789',
  GCP_REGION: 'europe-west1',
  GCP_SERVICE_ACCOUNT: 'sa@p1.iam.gserviceaccount.com',
  GCP_IMAGE_REPO: 'europe-west1-docker.pkg.dev/p1/mlops',
  MLOPS_STORE: 'gs://b1/m',
  MLOPS_API_KEY_SECRET: 'mlops-api-key',
} as const;
