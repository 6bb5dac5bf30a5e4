import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { REPO_ROOT } from '@mlops/config';
import type { AuditEvent, ModelRegistry } from '@mlops/registry';
import { startLocalS3, type LocalS3 } from '@mlops/storage/testing';
import type { ObjectStore } from '@mlops/storage';
import { startFaultProxy, type FaultProxy } from './fault-proxy.ts';

/** The store timeouts every faulted store gets: a hung server costs seconds, not the default 30 s. */
export const STORE_TIMEOUT_MS = 1_000;

/**
 * A fake model folder with the files a version needs (REQUIRED_MODEL_FILES, plus torch weights):
 * enough for the registry, which never runs the model.
 */
export async function writeFakeModelDir(dir: string, name = 'fake'): Promise<string> {
  const files: Record<string, string | Buffer> = {
    'config.json': JSON.stringify({ model_type: 'distilbert', id2label: { 0: 'negative', 1: 'positive' } }),
    'tokenizer.json': JSON.stringify({ model: { type: 'WordPiece' }, name }),
    'onnx/model.onnx': randomBytes(4096),
    'pytorch_model.bin': randomBytes(4096),
    'metrics.json': JSON.stringify({ validation: { accuracy: 0.9, n: 200 } }),
    'lineage.json': JSON.stringify({ fixture: true, name }),
  };
  for (const [path, body] of Object.entries(files)) {
    await mkdir(dirname(join(dir, path)), { recursive: true });
    await writeFile(join(dir, path), body);
  }
  return dir;
}

export interface ChildResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** `node --import tsx <script>` from the repository root, with `env` added to this process's. */
export function startChild(script: string, env: Record<string, string>): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', script], { cwd: REPO_ROOT, env: { ...process.env, ...env }, stdio: 'pipe' });
}

export function runChild(script: string, env: Record<string, string>): Promise<ChildResult> {
  const child = startChild(script, env);
  return finished(child);
}

export function finished(child: ChildProcess): Promise<ChildResult> {
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

/** Runs `work` over `items`, at most `limit` at a time, results in order. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        results[i] = await work(items[i]!);
      }
    }),
  );
  return results;
}

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** The local S3 server with the fault proxy in front of it. */
export interface FaultyS3 {
  s3: LocalS3;
  proxy: FaultProxy;
  /** s3://bucket/<prefix> */
  uri(prefix: string): string;
  /** Environment for openStore and the functions: through the proxy, with short store timeouts. */
  env: Record<string, string>;
  stop(): Promise<void>;
}

export async function startFaultyS3(): Promise<FaultyS3> {
  const s3 = await startLocalS3();
  const proxy = await startFaultProxy(s3.endpoint);
  return {
    s3,
    proxy,
    uri: (prefix) => `s3://${s3.bucket}/${prefix}`,
    env: {
      ...s3.env,
      MLOPS_S3_ENDPOINT: proxy.endpoint,
      MLOPS_STORE_RESPONSE_TIMEOUT_MS: String(STORE_TIMEOUT_MS),
      MLOPS_STORE_STALL_TIMEOUT_MS: String(STORE_TIMEOUT_MS),
    },
    stop: async () => {
      await proxy.close();
      await s3.stop();
    },
  };
}

/**
 * The functions open their store from process.env, not from the env they are given (see the
 * report): set the S3 variables there for the services built in this test file's worker.
 */
export function useStoreEnv(env: Record<string, string>): void {
  Object.assign(process.env, env);
}

export const count = (events: readonly AuditEvent[], match: (e: AuditEvent) => boolean) => events.filter(match).length;

/** What the registry holds, in one line for the table. */
export async function registryState(registry: ModelRegistry): Promise<string> {
  const versions = (await registry.listVersions()).map((v) => v.version);
  const champion = (await registry.getAlias('champion'))?.version ?? 'none';
  const challenger = (await registry.getAlias('challenger'))?.version;
  const trail = await registry.audit();
  return `versions [${versions.join(', ')}], champion ${champion}${challenger ? `, challenger ${challenger}` : ''}, ${trail.length} audit events`;
}

/** The lock runs/active.json as stored: absent, released, or held (by which run). */
export async function lockState(store: ObjectStore): Promise<'absent' | 'released' | `held by ${string}`> {
  const object = await store.get('runs/active.json').catch(() => undefined);
  if (!object) return 'absent';
  const lock = JSON.parse(object.body.toString()) as { run_id: string; released?: string };
  return lock.released ? 'released' : `held by ${lock.run_id}`;
}

export async function withTimeout<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      work,
      new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms))),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
