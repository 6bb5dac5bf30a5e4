/**
 * Serving benchmark (not a test): one run, same machine, same model (the registry champion), side by
 * side: raw onnxruntime forward passes, predict() in process, predict over HTTP under load, the
 * transformers.js pipeline, cold start per host adapter and batch-score on IMDB unsup. Prints markdown
 * tables with the ratios against the serving targets; progress goes to stderr.
 *   npm run bench:serve -- [--seconds N] [--rows N] [--quick]
 * MLOPS_STORE picks the store whose champion is measured (default: the repo's .mlops).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { createGunzip, gzipSync } from 'node:zlib';
import { env as transformersEnv, pipeline } from '@huggingface/transformers';
import autocannon from 'autocannon';
import { batchServingOptions, loadBatchSettings, scoreLocalFile } from '@mlops/batch-score';
import { defaultData, loadSettings, REPO_ROOT } from '@mlops/config';
import { readExamples } from '@mlops/data';
import { downloadForInference, ServingModel, TextClassifier } from '@mlops/inference';
import { createRegistry } from '@mlops/registry';
import { openStore } from '@mlops/storage';

const SAMPLE_ROWS = 512;
const RAW_BATCHES = [1, 8, 16, 32, 64];
/** Batch sizes for sessions side by side (worker threads, one intra-op thread each). */
const PARALLEL_BATCHES = [1, 8];
const CONCURRENCY = [1, 16, 64];
const SHORT_RAW_BATCHES = [1, 64];
const COLD_START_TIMEOUT_MS = 60_000;

const { values } = parseArgs({
  options: {
    seconds: { type: 'string' },
    rows: { type: 'string' },
    quick: { type: 'boolean', default: false },
  },
});
const positive = (name: string, raw: string): number => {
  const n = Number(raw);
  if (!(n > 0)) throw new Error(`--${name} must be a positive number (got "${raw}")`);
  return n;
};
const seconds = values.seconds ? positive('seconds', values.seconds) : values.quick ? 2 : 10;
const rowCap = values.rows ? Math.floor(positive('rows', values.rows)) : values.quick ? 2_000 : undefined;
const coldRuns = values.quick ? 1 : 3;

const settings = loadSettings();
const batchSettings = loadBatchSettings();
const progress = (message: string) => console.error(`[bench:serve] ${message}`);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// ---------------------------------------------------------------- measuring helpers

interface Speed {
  textsPerSecond: number;
  /** Per pass (one forward pass / one pipeline call / one request), in ms. */
  p50: number;
  p99: number;
}

function quantile(values: number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

/**
 * Runs `pass(i)` over the inputs round-robin for `seconds` (at least once), after one untimed
 * warm-up pass: a session's first run at a new shape allocates its buffers. `pass` returns the texts it handled.
 */
async function measure(inputs: number, pass: (i: number) => Promise<number>, parallel = 1): Promise<Speed> {
  await Promise.all(Array.from({ length: parallel }, (_, k) => pass(k % inputs)));
  const times: number[] = [];
  let texts = 0;
  let next = 0;
  const started = performance.now();
  // `parallel` callers, each taking the next input as soon as its pass returns.
  const caller = async () => {
    while (next === 0 || performance.now() - started < seconds * 1000) {
      const t = performance.now();
      texts += await pass(next++ % inputs);
      times.push(performance.now() - t);
    }
  };
  await Promise.all(Array.from({ length: parallel }, caller));
  return { textsPerSecond: texts / ((performance.now() - started) / 1000), p50: quantile(times, 0.5), p99: quantile(times, 0.99) };
}

/** Whole batches only, so every batch size sees texts of the same lengths. */
const batchesOf = (texts: string[], size: number): string[][] =>
  Array.from({ length: Math.floor(texts.length / size) }, (_, i) => texts.slice(i * size, (i + 1) * size));

// ---------------------------------------------------------------- child processes

const children = new Set<ChildProcess>();
process.on('exit', () => children.forEach((child) => child.kill('SIGKILL')));


/** `node <args>` from the repo root; its output goes to our stderr, away from the table. */
function startNode(args: string[], env: NodeJS.ProcessEnv): ChildProcess {
  const child = spawn(process.execPath, args, { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.pipe(process.stderr, { end: false });
  child.stderr!.pipe(process.stderr, { end: false });
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  if (typeof address !== 'object' || address === null) throw new Error('could not find a free port');
  return address.port;
}

/** Polls `check` every 10 ms until it is true; fails when the child exits first or after `timeoutMs`. */
async function until(child: ChildProcess, what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check().catch(() => false)) return;
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`exited (${child.exitCode ?? child.signalCode}) before ${what}`);
    if (Date.now() > deadline) throw new Error(`no ${what} within ${timeoutMs / 1000} s`);
    await sleep(10);
  }
}

const predictOk = async (port: number, text: string): Promise<boolean> => {
  const response = await fetch(`http://127.0.0.1:${port}/v1/predict`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ text }),
  });
  await response.arrayBuffer();
  return response.status === 200;
};

// ---------------------------------------------------------------- the model and the texts

const store = openStore(settings.MLOPS_STORE);
const registry = createRegistry(store, settings.MLOPS_MODEL);
const champion = await registry.getAlias('champion');
if (!champion) {
  throw new Error(`no champion for model "${settings.MLOPS_MODEL}" in ${store.uri}: train one (npm start) or point MLOPS_STORE at a store that has one`);
}
const threads = availableParallelism();

interface Row {
  name: string;
  speed?: Speed;
  unit: string;
  note: string;
}

const work = await mkdtemp(join(tmpdir(), 'mlops-serve-bench-'));
try {
  const cacheDir = join(work, 'cache');
  progress(`downloading ${settings.MLOPS_MODEL} ${champion.version} from ${store.uri}`);
  const modelDir = await downloadForInference(registry, champion.version, cacheDir);
  const onnxBytes = (await stat(join(modelDir, 'onnx', 'model.onnx'))).size;
  const firstTexts = async (input: string): Promise<string[]> => {
    const texts: string[] = [];
    for await (const example of readExamples(input, { requireLabel: false })) {
      texts.push(example.text);
      if (texts.length === SAMPLE_ROWS) break;
    }
    return texts;
  };
  const sample = await firstTexts(defaultData(settings).eval);
  // Short texts as well: sentences, where a pass costs little per text and batching pays most.
  const shortSample = await firstTexts(join(settings.MLOPS_DATA_DIR, 'sst2', 'train.jsonl.gz'));

  // ---------------------------------------------------------------- 1. raw forward passes, predict()
  // Raw: one session on this thread using every core, no worker hop, as a user of onnxruntime-node
  // would write it; then one single-threaded session per core, side by side in worker threads.
  const inline = await TextClassifier.load(modelDir, { threads, sessions: 0 });
  const classifier = await TextClassifier.load(modelDir, { sessions: threads, threads: 1 });
  // Raw batches hold texts of similar length (sorted by tokens): the best case a batcher can reach.
  const sortedIds = async (texts: string[]) => [...(await classifier.tokenizer.encode(texts)).ids].sort((a, b) => a.length - b.length);
  const byLength = await sortedIds(sample);
  const shortByLength = await sortedIds(shortSample);
  const meanTokens = (rows: number[][]) => rows.reduce((n, row) => n + row.length, 0) / rows.length;
  const rawPasses = async (model: TextClassifier, size: number, parallel: number, sorted = byLength): Promise<Speed> => {
    // pad() per pass: a pass hands its buffers to the worker that runs it.
    const rows = Array.from({ length: Math.floor(sorted.length / size) }, (_, i) => sorted.slice(i * size, (i + 1) * size));
    return measure(
      rows.length,
      async (i) => {
        const e = model.pad(rows[i]!);
        await model.logits(e.inputIds, e.attentionMask, e.batch, e.seq);
        return e.batch;
      },
      parallel,
    );
  };
  const raw = new Map<number, Speed>();
  for (const size of RAW_BATCHES) {
    progress(`raw forward passes, batch ${size}`);
    raw.set(size, await rawPasses(inline, size, 1));
  }
  const rawShort = new Map<number, Speed>();
  for (const size of SHORT_RAW_BATCHES) {
    progress(`raw forward passes, SST-2 sentences, batch ${size}`);
    rawShort.set(size, await rawPasses(inline, size, 1, shortByLength));
  }
  const rawParallel = new Map<number, Speed>();
  for (const size of PARALLEL_BATCHES) {
    progress(`raw forward passes, ${threads} sessions side by side, batch ${size}`);
    rawParallel.set(size, await rawPasses(classifier, size, threads));
  }
  await inline.release();
  const [bestBatch] = [...raw].reduce((best, entry) => (entry[1].textsPerSecond > best[1].textsPerSecond ? entry : best));
  const rawLimit = Math.max(...[...raw.values(), ...rawParallel.values()].map((speed) => speed.textsPerSecond));
  const predictBatches = bestBatch === 1 ? [1] : [1, bestBatch];
  const inProcess = new Map<number, Speed>();
  for (const size of predictBatches) {
    const batches = batchesOf(sample, size);
    progress(`TextClassifier.predict (tokenize + forward), batch ${size}`);
    inProcess.set(size, await measure(batches.length, async (i) => (await classifier.predict(batches[i]!)).length));
  }

  // ---------------------------------------------------------------- 3. transformers.js, same model folder
  const peer = new Map<number, Speed>();
  let peerError: string | undefined;
  let agreement: number | undefined;
  try {
    transformersEnv.allowRemoteModels = false;
    // Every core, as our sessions use every core, so the comparison is of the code, not the settings.
    const classify = await pipeline('text-classification', modelDir, { dtype: 'fp32', device: 'cpu', session_options: { intraOpNumThreads: threads } });
    try {
      for (const size of predictBatches) {
        const batches = batchesOf(sample, size);
        progress(`transformers.js text-classification pipeline, batch ${size}`);
        peer.set(size, await measure(batches.length, async (i) => (await classify(batches[i]!)).length));
      }
      // Same model and tokenizer, so the labels should match: a check that both ran the same thing.
      const theirs = await classify(sample.slice(0, 64));
      const ours = await classifier.predict(sample.slice(0, 64));
      agreement = ours.filter((p, i) => p.label === theirs[i]?.label).length / ours.length;
    } finally {
      await classify.dispose();
    }
  } catch (error) {
    peerError = oneLine(error);
    progress(`transformers.js failed: ${peerError}`);
  }
  await classifier.release();

  // ---------------------------------------------------------------- 2. predict over HTTP
  const childEnv = { ...process.env, MLOPS_STORE: settings.MLOPS_STORE, MLOPS_CACHE_DIR: cacheDir, LOG_LEVEL: 'warn', PREDICT_LOG_SAMPLE_RATE: '0' };
  type HttpSpeed = Speed & { non2xx: number; errors: number };
  /** The default (sessions in worker threads) on reviews and on sentences, then one session on the event loop for comparison. */
  const httpConfigs: { name: string; env: Record<string, string>; sets: Record<string, string[]> }[] = [
    { name: 'default', env: {}, sets: { IMDB: sample, 'SST-2': shortSample } },
    { name: 'one session on the event loop', env: { PREDICT_SESSIONS: '0', PREDICT_THREADS: String(threads) }, sets: { IMDB: sample } },
  ];
  /** Keyed `<texts>, <config>`. */
  const httpRuns = new Map<string, Map<number, HttpSpeed>>();
  for (const config of httpConfigs) {
    const port = await freePort();
    progress(`starting mlops serve predict on port ${port} (${config.name})`);
    const server = startNode([join(REPO_ROOT, 'apps/cli/bin/mlops.js'), 'serve', 'predict', '--port', String(port)], { ...childEnv, ...config.env });
    try {
      await until(server, 'ready', async () => (await fetch(`http://127.0.0.1:${port}/readyz`)).status === 200, 120_000);
      const load = (bodies: string[], connections: number, duration: number) =>
        new Promise<HttpSpeed>((resolve, reject) => {
          // autocannon's histograms keep whole milliseconds: latencies are taken from its events instead.
          const latencies: number[] = [];
          let next = 0;
          const instance = autocannon(
            {
              url: `http://127.0.0.1:${port}/v1/predict`,
              method: 'POST',
              headers: { 'content-type': 'application/json' },
              connections,
              duration,
              requests: [{ setupRequest: (request) => ({ ...request, body: bodies[next++ % bodies.length] }) }],
            },
            (error: unknown, result) => {
              if (error) return reject(error instanceof Error ? error : new Error(String(error)));
              resolve({
                textsPerSecond: result['2xx'] / result.duration,
                p50: quantile(latencies, 0.5),
                p99: quantile(latencies, 0.99),
                non2xx: result.non2xx,
                errors: result.errors,
              });
            },
          );
          instance.on('response', (_client, status, _bytes, ms) => {
            if (status >= 200 && status < 300) latencies.push(ms);
          });
        });
      for (const [set, texts] of Object.entries(config.sets)) {
        const bodies = texts.map((text) => JSON.stringify({ text }));
        const results = new Map<number, HttpSpeed>();
        httpRuns.set(`${set}, ${config.name}`, results);
        progress(`HTTP warm-up, 1 s at c=16 (${set})`);
        await load(bodies, 16, 1);
        for (const c of CONCURRENCY) {
          progress(`HTTP load, c=${c} for ${seconds} s (${set}, ${config.name})`);
          results.set(c, await load(bodies, c, seconds));
        }
      }
    } finally {
      await stopChild(server);
    }
  }
  const http = httpRuns.get('IMDB, default')!;
  const httpShort = httpRuns.get('SST-2, default')!;

  // ---------------------------------------------------------------- 4. cold start per host
  const lambdaEvent = {
    version: '2.0',
    routeKey: '$default',
    rawPath: '/v1/predict',
    rawQueryString: '',
    headers: { 'content-type': 'application/json', host: 'id.execute-api.us-east-1.amazonaws.com' },
    requestContext: {
      accountId: '123456789012',
      apiId: 'id',
      domainName: 'id.execute-api.us-east-1.amazonaws.com',
      domainPrefix: 'id',
      http: { method: 'POST', path: '/v1/predict', protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: 'bench' },
      requestId: 'bench',
      routeKey: '$default',
      stage: '$default',
      time: '01/Jan/2026:00:00:00 +0000',
      timeEpoch: 0,
    },
    body: JSON.stringify({ text: sample[0] }),
    isBase64Encoded: false,
  };
  // What a deployment runs: the esbuild bundle per host (tools/build), inside the repo so that its
  // externals (onnxruntime-node, tokenizers) resolve from the root node_modules.
  const bundles = join(REPO_ROOT, 'dist', 'bench');
  progress(`bundling predict for every host into ${bundles}`);
  execFileSync(join(REPO_ROOT, 'node_modules/.bin/tsx'), [join(REPO_ROOT, 'tools/build/src/main.ts'), 'predict', '--host', 'all', '--out', bundles], {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const entry = (host: string) => join(bundles, 'predict', host, 'index.mjs');
  const firstPrediction = (child: ChildProcess, port: number) => until(child, 'a prediction', () => predictOk(port, sample[0]!), COLD_START_TIMEOUT_MS);
  const hosts: { name: string; start: (port: number, env: NodeJS.ProcessEnv) => ChildProcess; ready: (child: ChildProcess, port: number) => Promise<void> }[] = [
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
          [join(REPO_ROOT, 'node_modules/@google-cloud/functions-framework/build/src/main.js'), '--target=predict', `--source=${entry('cloud-function')}`, `--port=${port}`],
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
        return until(child, 'a prediction', async () => out.includes('lambda answered 200'), COLD_START_TIMEOUT_MS);
      },
    },
  ];
  const coldStarts: { name: string; empty?: number; cached?: number; error?: string }[] = [];
  for (const host of hosts) {
    const result: (typeof coldStarts)[number] = { name: host.name };
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

  // ---------------------------------------------------------------- 5. batch-score on IMDB unsup
  const unsup = join(settings.MLOPS_DATA_DIR, 'imdb', 'unsup.jsonl.gz');
  const input = rowCap ? await firstRows(unsup, rowCap, work) : unsup;
  progress(`batch-score ${rowCap ? `${rowCap} rows of ` : ''}${unsup} (batch ${batchSettings.BATCH_MAX_BATCH}, chunks of ${batchSettings.BATCH_CHUNK_ROWS})`);
  // Built like the batch-score service builds its model: no batching wait, full batches from the chunks.
  const scorer = await ServingModel.load(
    modelDir,
    { version: champion.version },
    batchServingOptions(batchSettings),
  );
  let reported = 0;
  const summary = await scoreLocalFile(scorer, input, join(work, 'unsup.predictions.jsonl'), {
    chunkRows: batchSettings.BATCH_CHUNK_ROWS,
    batchSize: batchSettings.BATCH_MAX_BATCH,
    onProgress: (rows) => {
      if (rows - reported >= 5_000) {
        reported = rows;
        progress(`  ${rows} rows scored`);
      }
    },
  });
  await scorer.retire();

  // ---------------------------------------------------------------- the tables
  const f = (n: number | undefined, digits = 1) => (n === undefined || !Number.isFinite(n) ? '—' : n.toFixed(digits));
  const ratio = (n: number | undefined) => (n === undefined || !Number.isFinite(n) ? 'n/a' : `${n.toFixed(2)}x`);
  const met = (ok: boolean | undefined) => (ok === undefined ? 'n/a' : ok ? 'yes' : 'no');
  const predictLimit = inProcess.get(bestBatch)!;
  const peerBest = peer.size > 0 ? Math.max(...[...peer.values()].map((s) => s.textsPerSecond)) : undefined;

  const rows: Row[] = [
    ...RAW_BATCHES.map((size) => ({ name: `raw onnxruntime forward, batch ${size}`, speed: raw.get(size), unit: 'per pass', note: `one session, ${threads} threads, on the event loop; pre-tokenized, length-sorted` })),
    ...SHORT_RAW_BATCHES.map((size) => ({ name: `raw onnxruntime forward, SST-2, batch ${size}`, speed: rawShort.get(size), unit: 'per pass', note: 'the same, on SST-2 sentences' })),
    ...PARALLEL_BATCHES.map((size) => ({
      name: `raw onnxruntime forward, ${threads} sessions side by side, batch ${size}`,
      speed: rawParallel.get(size),
      unit: 'per pass',
      note: '1 thread each, worker threads; pre-tokenized, length-sorted',
    })),
    ...predictBatches.map((size) => ({ name: `TextClassifier.predict, batch ${size}`, speed: inProcess.get(size), unit: 'per call', note: 'tokenize + forward' })),
    ...predictBatches.map((size) => ({
      name: `transformers.js pipeline, batch ${size}`,
      speed: peer.get(size),
      unit: 'per call',
      note: peerError ? `failed: ${peerError}` : `@huggingface/transformers ${transformersEnv.version}, fp32, ${threads} threads`,
    })),
    ...[...httpRuns].flatMap(([run, results]) =>
      CONCURRENCY.map((c) => {
        const s = results.get(c);
        return { name: `HTTP POST /v1/predict, c=${c} (${run})`, speed: s, unit: 'per request', note: `1 text/request; non-2xx ${s?.non2xx ?? '—'}, errors ${s?.errors ?? '—'}` };
      }),
    ),
  ];
  console.log(`\n## Serving benchmark: ${settings.MLOPS_MODEL} ${champion.version}\n`);
  console.log(
    `${cpus().length} × ${cpus()[0]?.model ?? 'CPU'}, Node ${process.version}; model.onnx ${(onnxBytes / 1e6).toFixed(1)} MB; ` +
      `${sample.length} IMDB test texts (${meanTokens(byLength).toFixed(0)} tokens on average) and ${shortSample.length} SST-2 sentences (${meanTokens(shortByLength).toFixed(0)}); ${seconds} s per measurement\n`,
  );
  console.log('| measurement | texts/s | p50 ms | p99 ms | latency of | notes |\n| --- | ---: | ---: | ---: | --- | --- |');
  for (const r of rows) console.log(`| ${r.name} | ${f(r.speed?.textsPerSecond)} | ${f(r.speed?.p50, 2)} | ${f(r.speed?.p99, 2)} | ${r.unit} | ${r.note} |`);
  console.log(
    `| batch-score, ${summary.rows} unsup rows | ${f(summary.rows_per_second)} | | | | scoreLocalFile, batch ${batchSettings.BATCH_MAX_BATCH}, ${summary.seconds.toFixed(1)} s, ${summary.bad_rows} bad rows |`,
  );
  if (agreement !== undefined) console.log(`\ntransformers.js and ours agree on ${(agreement * 100).toFixed(1)}% of labels (64 texts).`);

  console.log('\n| cold start of the built bundle: process start → first prediction | empty model cache (ms) | model cached on disk (ms) | notes |\n| --- | ---: | ---: | --- |');
  for (const c of coldStarts) console.log(`| ${c.name} | ${f(c.empty, 0)} | ${f(c.cached, 0)} | ${c.error ? `failed: ${c.error}` : `median of ${coldRuns}`} |`);

  const c1 = http.get(1);
  const c64 = http.get(64);
  const checks: [string, string, string, boolean | undefined][] = [];
  const add = (name: string, value: number | undefined, shown: string, target: string, ok: (v: number) => boolean) =>
    checks.push([name, shown, target, value === undefined || !Number.isFinite(value) ? undefined : ok(value)]);
  const httpOverhead = c1 && c1.p50 / raw.get(1)!.p50;
  add('HTTP c=1 p50 latency / raw batch-1 p50 latency', httpOverhead, ratio(httpOverhead), '≤ 1.20x', (v) => v <= 1.2);
  const overTokenized = c1 && c1.p50 / inProcess.get(1)!.p50;
  checks.push(['HTTP c=1 p50 latency / predict() batch-1 p50 (tokenization included in both)', ratio(overTokenized), '(context)', undefined]);
  const scaling = c1 && c64 && c64.textsPerSecond / c1.textsPerSecond;
  add('HTTP throughput c=64 / c=1', scaling, ratio(scaling), '≥ 3x', (v) => v >= 3);
  // What batching can give at most: the raw passes' own gain from batch 1 to their best batch.
  const rawGain = rawLimit / raw.get(1)!.textsPerSecond;
  checks.push(['raw best batch / raw batch 1 (the most any batcher can gain on these texts)', ratio(rawGain), '(context)', undefined]);
  const shortC1 = httpShort.get(1);
  const shortC64 = httpShort.get(64);
  const shortOverhead = shortC1 && shortC1.p50 / rawShort.get(1)!.p50;
  add('SST-2: HTTP c=1 p50 latency / raw batch-1 p50 latency', shortOverhead, ratio(shortOverhead), '≤ 1.20x', (v) => v <= 1.2);
  const shortScaling = shortC1 && shortC64 && shortC64.textsPerSecond / shortC1.textsPerSecond;
  add('SST-2: HTTP throughput c=64 / c=1', shortScaling, ratio(shortScaling), '≥ 3x', (v) => v >= 3);
  for (const size of predictBatches) {
    const r = peer.get(size) && inProcess.get(size)!.textsPerSecond / peer.get(size)!.textsPerSecond;
    add(`predict() in process / transformers.js, batch ${size}`, r, ratio(r), '≥ 1.5x', (v) => v >= 1.5);
  }
  const httpVsPeer = c64 && peerBest && c64.textsPerSecond / peerBest;
  add('HTTP c=64 / transformers.js (its best batch)', httpVsPeer, ratio(httpVsPeer), '≥ 1.5x', (v) => v >= 1.5);
  const batchShare = summary.rows_per_second / rawLimit;
  add('batch-score / raw batched limit (best raw row: pre-tokenized, no I/O)', batchShare, `${(batchShare * 100).toFixed(0)}%`, '≥ 80%', (v) => v >= 0.8);
  const batchShareOfPredict = summary.rows_per_second / predictLimit.textsPerSecond;
  checks.push([`batch-score / TextClassifier.predict, batch ${bestBatch} (tokenization in both)`, `${(batchShareOfPredict * 100).toFixed(0)}%`, '(context)', undefined]);
  for (const c of coldStarts) add(`cold start, ${c.name}, empty cache`, c.empty, c.empty === undefined ? 'failed' : `${c.empty.toFixed(0)} ms`, '< 1000 ms', (v) => v < 1000);
  console.log('\n| ratio | measured | target | met |\n| --- | ---: | ---: | --- |');
  for (const [name, shown, target, ok] of checks) console.log(`| ${name} | ${shown} | ${target} | ${target === '(context)' ? '' : met(ok)} |`);
} finally {
  await rm(work, { recursive: true, force: true });
}

/** For a table cell: the first line, no column separators. */
function oneLine(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split('\n')[0]!.replaceAll('|', '/');
}

/** The first `n` rows of a .jsonl.gz as a .jsonl.gz of their own, so the scored file has the same format. */
async function firstRows(path: string, n: number, dir: string): Promise<string> {
  const stream = createReadStream(path);
  const lines: string[] = [];
  try {
    for await (const line of createInterface({ input: stream.pipe(createGunzip()), crlfDelay: Infinity })) {
      if (line.trim() === '') continue;
      lines.push(line);
      if (lines.length === n) break;
    }
  } finally {
    stream.destroy();
  }
  const out = join(dir, `unsup-first-${n}.jsonl.gz`);
  await writeFile(out, gzipSync(`${lines.join('\n')}\n`));
  return out;
}
