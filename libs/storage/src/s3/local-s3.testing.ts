// Test helper: a real S3-compatible server (s3rver) on 127.0.0.1, behind the conditional-write
// proxy that s3rver needs to behave like today's S3 (see conditional-proxy.testing.ts).
import { mkdtemp, rm } from 'node:fs/promises';
import type { Server } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';
import { startConditionalProxy } from './conditional-proxy.testing.ts';
import { s3ClientConfigFromEnv, S3Store } from './s3-store.ts';

/** The part of s3rver's (untyped, CommonJS) API used here. */
interface S3rverInstance {
  run(): Promise<AddressInfo>;
  close(): Promise<void>;
  httpServer?: Server;
}
type S3rverClass = new (options: {
  address: string;
  port: number;
  directory: string;
  silent: boolean;
  configureBuckets: { name: string; configs: string[] }[];
}) => S3rverInstance;

const S3rver = createRequire(import.meta.url)('s3rver') as S3rverClass;

/** s3rver's built-in account; it checks SigV4 signatures against it. */
const CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };

export interface LocalS3 {
  /** The endpoint clients use (the proxy), e.g. http://127.0.0.1:40123. */
  readonly endpoint: string;
  /** s3rver itself, without the proxy: only to show what the proxy adds. */
  readonly serverEndpoint: string;
  readonly bucket: string;
  /** Environment for openStore: MLOPS_S3_ENDPOINT, AWS_REGION and s3rver's credentials. */
  readonly env: Record<string, string>;
  /** A client with short timeouts and no retries, so a broken test fails fast. */
  client(overrides?: S3ClientConfig): S3Client;
  /** A store on a fresh client (as another process would have) under `prefix` in the bucket. */
  store(prefix?: string): S3Store;
  stop(): Promise<void>;
}

/** Client settings for tests: the same as openStore's for an endpoint, with short timeouts. */
export function testS3ClientConfig(endpoint: string): S3ClientConfig {
  return {
    ...s3ClientConfigFromEnv({ MLOPS_S3_ENDPOINT: endpoint, AWS_REGION: 'us-east-1' }),
    credentials: CREDENTIALS,
    maxAttempts: 1,
    requestHandler: { connectionTimeout: 1_000, requestTimeout: 10_000 },
  };
}

export async function startLocalS3(bucket = 'test-bucket'): Promise<LocalS3> {
  const directory = await mkdtemp(join(tmpdir(), 's3rver-'));
  const server = new S3rver({ address: '127.0.0.1', port: 0, directory, silent: true, configureBuckets: [{ name: bucket, configs: [] }] });
  const { port } = await server.run();
  const proxy = await startConditionalProxy({ host: '127.0.0.1', port });
  const clients: S3Client[] = [];
  const client = (overrides: S3ClientConfig = {}) => {
    const created = new S3Client({ ...testS3ClientConfig(proxy.endpoint), ...overrides });
    clients.push(created);
    return created;
  };

  return {
    endpoint: proxy.endpoint,
    serverEndpoint: `http://127.0.0.1:${port}`,
    bucket,
    env: {
      MLOPS_S3_ENDPOINT: proxy.endpoint,
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: CREDENTIALS.secretAccessKey,
    },
    client,
    store: (prefix = '') => new S3Store(client(), { bucket, prefix }),
    stop: async () => {
      for (const created of clients) created.destroy();
      await proxy.close();
      server.httpServer?.closeAllConnections();
      await server.close();
      await rm(directory, { recursive: true, force: true });
    },
  };
}
