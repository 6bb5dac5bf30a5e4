// Test helpers for other projects' tests (`@mlops/storage/testing`); never imported by runtime code.
export { startLocalGcs, testGcsStorageOptions } from './gcs/local-gcs.testing.ts';
export type { LocalGcs } from './gcs/local-gcs.testing.ts';
export { startLocalS3, testS3ClientConfig } from './s3/local-s3.testing.ts';
export type { LocalS3 } from './s3/local-s3.testing.ts';
export { describeStoreContract, uniquePrefix } from './store-contract.testing.ts';
export type { StoreUnderTest } from './store-contract.testing.ts';
