import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from '@mlops/config';
import { createTinyModel } from '@mlops/inference/testing';
import { createRegistry } from '@mlops/registry';
import { openStore } from '@mlops/storage';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundleFunction, FUNCTIONS, HOSTS, installedVersion, type BundleResult } from './bundle.ts';

// Inside the repo, so `onnxruntime-node` and `tokenizers` resolve from /work/main/node_modules as
// they would from the function folder's own node_modules after `npm install --omit=dev`.
let work: string;
let predict: BundleResult;

beforeAll(async () => {
  work = await mkdtemp(join(REPO_ROOT, 'tools', 'build', '.tmp-bundle-test-'));
  predict = await bundleFunction('predict', 'node', join(work, 'predict-node'));
});

afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  server.close();
  if (address === null || typeof address === 'string') throw new Error('no TCP address');
  return address.port;
}

async function poll(url: string, init: RequestInit, child: ChildProcess, deadline: number): Promise<Response> {
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the bundle exited with code ${child.exitCode}`);
    const res = await fetch(url, init).catch(() => undefined);
    if (res?.status === 200) return res;
    if (Date.now() > deadline) throw new Error(`${url} did not answer 200 in time (last: ${res?.status ?? 'no connection'})`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('predict bundled for the node host', () => {
  it('is ESM (an entry and lazily read chunks) with onnxruntime and tokenizers left outside', async () => {
    const files = [predict.bundleFile, ...(await readdir(join(predict.outDir, 'chunks'))).map((f) => join(predict.outDir, 'chunks', f))];
    const sources = await Promise.all(files.map((f) => readFile(f, 'utf8')));
    const entry = sources[0]!;
    const code = sources.join('\n');
    expect(predict.bundleBytes).toBe(sources.reduce((n, src) => n + Buffer.byteLength(src), 0));
    expect(predict.entryBytes).toBe(Buffer.byteLength(entry));
    // The cloud SDKs of the other store schemes stay out of the entry, read only when used.
    expect(/^\/\/ node_modules\/@aws-sdk\/client-s3\//m.test(entry)).toBe(false);
    expect(/^\/\/ node_modules\/@google-cloud\/storage\//m.test(entry)).toBe(false);
    expect(/^\/\/ node_modules\/@google-cloud\/storage\//m.test(code)).toBe(true);
    // Checked as booleans: a failing toMatch would print the whole 2 MB bundle.
    const has = (pattern: RegExp | string) => (typeof pattern === 'string' ? code.includes(pattern) : pattern.test(code));
    // ESM: the createRequire banner on top, static imports of the externals, no CJS wrapper for them.
    expect(sources.every((src) => src.startsWith("import { createRequire as __mlopsCreateRequire } from 'node:module';"))).toBe(true);
    expect(has(/^(import .*|\}) from "onnxruntime-node";$/m)).toBe(true);
    expect(has(/^(import .*|\}) from "tokenizers";$/m)).toBe(true);
    expect(has(/^export \{/m)).toBe(true);
    // esbuild marks each bundled module with a `// node_modules/<pkg>/…` comment.
    expect(has(/^\/\/ node_modules\/onnxruntime-(node|common)\//m)).toBe(false);
    expect(has(/^\/\/ node_modules\/tokenizers\//m)).toBe(false);
    expect(has('onnxruntime_binding')).toBe(false);
    expect(has(/^\/\/ node_modules\/hono\//m)).toBe(true);
    console.info(`predict/node bundle: ${predict.bundleBytes} bytes in ${predict.ms} ms`);
  });

  it('writes a package.json listing only the externals, at the installed versions', async () => {
    const pkg = JSON.parse(await readFile(join(predict.outDir, 'package.json'), 'utf8')) as Record<string, unknown>;
    expect(pkg).toMatchObject({ type: 'module', main: 'index.mjs', scripts: { start: 'node index.mjs' } });
    expect(pkg.dependencies).toEqual({
      'onnxruntime-node': await installedVersion('onnxruntime-node'),
      tokenizers: await installedVersion('tokenizers'),
    });
    expect(pkg.devDependencies).toBeUndefined();
  });

  it('starts with `node index.mjs`, turns ready and predicts', async () => {
    const root = await mkdtemp(join(tmpdir(), 'bundle-predict-'));
    const store = join(root, 'store');
    await createRegistry(openStore(store)).registerVersion(await createTinyModel(), { actor: 'test', reason: 'fixture' });
    const port = await freePort();
    const started = performance.now();
    const child = spawn(process.execPath, ['index.mjs'], {
      cwd: predict.outDir,
      env: {
        PATH: process.env.PATH,
        PORT: String(port),
        MLOPS_STORE: store,
        MLOPS_CACHE_DIR: join(root, 'cache'),
        PREDICT_LOG_SAMPLE_RATE: '0',
        PREDICT_THREADS: '1',
        LOG_LEVEL: 'warn',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
    try {
      const deadline = Date.now() + 30_000;
      const base = `http://127.0.0.1:${port}`;
      const ready = await poll(`${base}/readyz`, {}, child, deadline);
      expect(await ready.json()).toMatchObject({ model_version: 'v1' });
      const readyMs = performance.now() - started;
      const res = await poll(
        `${base}/v1/predict`,
        { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ texts: ['a good film', 'awful plot'] }) },
        child,
        deadline,
      );
      const firstPredictionMs = performance.now() - started;
      const body = (await res.json()) as { model_version: string; predictions: { label: string }[] };
      expect(body.model_version).toBe('v1');
      expect(body.predictions.map((p) => p.label).every((l) => l === 'negative' || l === 'positive')).toBe(true);
      console.info(
        `predict/node cold start: ready ${readyMs.toFixed(0)} ms, first prediction ${firstPredictionMs.toFixed(0)} ms after process start`,
      );
    } catch (error) {
      throw new Error(`${error instanceof Error ? error.message : String(error)}\n--- bundle output ---\n${output}`, { cause: error });
    } finally {
      child.kill('SIGTERM');
      if (child.exitCode === null) await once(child, 'exit');
      await rm(root, { recursive: true, force: true });
    }
  });
});

it('bundles every function for every host', async () => {
  const rows: string[] = [];
  for (const name of FUNCTIONS) {
    for (const host of HOSTS) {
      const r = await bundleFunction(name, host, join(work, 'all', name, host));
      expect(r.bundleBytes).toBeGreaterThan(0);
      // The framework's CLI must find the function in its own registry, so it is never bundled.
      if (host === 'cloud-function') expect(r.externals).toHaveProperty('@google-cloud/functions-framework');
      else expect(r.externals).not.toHaveProperty('@google-cloud/functions-framework');
      rows.push(`${name}/${host}: ${r.bundleBytes} bytes, externals ${Object.keys(r.externals).join(', ') || '-'}`);
    }
  }
  console.info(rows.join('\n'));
}, 120_000);
