import { startLocalS3 } from '@mlops/storage/testing';
import { describeRegistryOnStore } from './registry-contract.testing.ts';

// s3rver on 127.0.0.1 behind the conditional-write proxy (see @mlops/storage/testing).
describeRegistryOnStore('S3', startLocalS3);
