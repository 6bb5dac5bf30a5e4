import { startLocalGcs } from '@mlops/storage/testing';
import { describeRegistryOnStore } from './registry-contract.testing.ts';

// The real @google-cloud/storage SDK against a local GCS JSON API test double (no GCS emulator installs here).
describeRegistryOnStore('GCS', startLocalGcs);
