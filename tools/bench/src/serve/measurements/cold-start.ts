/**
 * Cold start of what a deployment runs, the esbuild bundle per host (tools/build): process start to
 * first prediction, with an empty model cache (a new instance) and with the model cached on disk.
 */
import { execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { REPO_ROOT } from '@mlops/config';
import { httpApiV2Event, httpApiV2Request } from '@mlops/platform/testing';
import { markdownTable } from '../../markdown.ts';
import { fixed, oneLine } from '../format.ts';
import { quantile } from '../measure.ts';
import type { Measurement } from '../measurement.ts';
import { freePort, predictOk, startNode, stopChild, until } from '../processes.ts';

const TIMEOUT_MS = 60_000;

export interface ColdStart {
  host: string;
  /** Median ms to the first prediction. */
  empty?: number;
  cached?: number;
  error?: string;
}

interface Host {
  name: string;
  start(port: number, env: NodeJS.ProcessEnv): ChildProcess;
  /** Resolves at the child's first prediction. */
  ready(child: ChildProcess, port: number): Promise<void>;
}

function hosts(bundles: string, text: string): Host[] {
  const entry = (host: string) => join(bundles, 'predict', host, 'index.mjs');
  const firstPrediction = (child: ChildProcess, port: number) => until(child, 'a prediction', () => predictOk(port, text), TIMEOUT_MS);
  const lambdaEvent = httpApiV2Request(
    'POST',
    '/v1/predict',
    { 'content-type': 'application/json', host: httpApiV2Event.requestContext.domainName },
    JSON.stringify({ text }),
  );
  return [
    {
      name: 'Node server (Cloud Run, local)',
      start: (port, env) => startNode([entry('node')], { ...env, PORT: String(port) }),
      ready: firstPrediction,
    },
    {
      name: 'Cloud Functions (functions-framework)',
      // The framework's own CLI, run by node directly: npx would add its own start-up to the number.
      start: (port, env) =>
        startNode(
          [
            join(REPO_ROOT, 'node_modules/@google-cloud/functions-framework/build/src/main.js'),
            '--target=predict',
            `--source=${entry('cloud-function')}`,
            `--port=${port}`,
          ],
          env,
        ),
      ready: firstPrediction,
    },
    {
      name: 'AWS Lambda handler (API Gateway v2 event)',
      start: (_port, env) => {
        const script = `const { handler } = await import(${JSON.stringify(pathToFileURL(entry('lambda')).href)});
const result = await handler(${JSON.stringify(lambdaEvent)});
console.log('lambda answered ' + result.statusCode);`;
        return startNode(['--input-type=module', '-e', script], env);
      },
      ready: (child) => {
        let out = '';
        child.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString()));
        return until(child, 'a prediction', async () => out.includes('lambda answered 200'), TIMEOUT_MS);
      },
    },
  ];
}

export const coldStartMeasurement: Measurement<ColdStart[]> = {
  name: 'cold-start',
  async run({ coldRuns, work, cacheDir, childEnv, reviews, progress }) {
    // Inside the repo, so that the bundles' externals (onnxruntime-node, tokenizers) resolve from the root node_modules.
    const bundles = join(REPO_ROOT, 'dist', 'bench');
    progress(`bundling predict for every host into ${bundles}`);
    execFileSync(
      join(REPO_ROOT, 'node_modules/.bin/tsx'),
      [join(REPO_ROOT, 'tools/build/src/main.ts'), 'predict', '--host', 'all', '--out', bundles],
      {
        cwd: REPO_ROOT,
        stdio: ['ignore', 'ignore', 'inherit'],
      },
    );
    const coldStarts: ColdStart[] = [];
    for (const host of hosts(bundles, reviews[0]!)) {
      const result: ColdStart = { host: host.name };
      try {
        for (const cache of ['empty', 'cached'] as const) {
          const times: number[] = [];
          for (let run = 0; run < coldRuns; run++) {
            progress(`cold start: ${host.name}, ${cache} model cache, run ${run + 1}/${coldRuns}`);
            // An empty cache is a new instance: the model is copied from the store first.
            const runCache = cache === 'empty' ? await mkdtemp(join(work, 'cold-')) : cacheDir;
            const port = await freePort();
            const started = performance.now();
            const child = host.start(port, { ...childEnv, MLOPS_CACHE_DIR: runCache });
            try {
              await host.ready(child, port);
              times.push(performance.now() - started);
            } finally {
              await stopChild(child);
            }
          }
          result[cache] = quantile(times, 0.5);
        }
      } catch (error) {
        result.error = oneLine(error);
        progress(`cold start failed for ${host.name}: ${result.error}`);
      }
      coldStarts.push(result);
    }
    return coldStarts;
  },
  report(coldStarts, { coldRuns }) {
    const table = markdownTable(
      [
        { title: 'cold start of the built bundle: process start → first prediction' },
        { title: 'empty model cache (ms)', align: 'right' },
        { title: 'model cached on disk (ms)', align: 'right' },
        { title: 'notes' },
      ],
      coldStarts.map((c) => [c.host, fixed(c.empty, 0), fixed(c.cached, 0), c.error ? `failed: ${c.error}` : `median of ${coldRuns}`]),
    );
    return { rows: [], after: [table] };
  },
};
