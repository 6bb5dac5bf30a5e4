/**
 * POST /v1/predict on `mlops serve predict` under autocannon load at several concurrencies: the
 * default sessions (chosen from the model's size) on reviews and on sentences, then on reviews
 * the other layout (one single-threaded session per core, or one session on every core) and one
 * session on the event loop, for comparison. Each server's resident memory is read after its load.
 */
import { join } from 'node:path';
import autocannon from 'autocannon';
import { REPO_ROOT } from '@mlops/config';
import { quantile, type Speed } from '../measure.ts';
import { speedRow, type Measurement } from '../measurement.ts';
import { freePort, memoryOf, predictOk, startNode, stopChild, until, type Memory } from '../processes.ts';

const CONCURRENCY = [1, 16, 64];

export type HttpSpeed = Speed & { non2xx: number; errors: number };

export interface HttpLoad {
  /** By `<texts>, <server config>`, then by concurrency. */
  runs: Map<string, Map<number, HttpSpeed>>;
  /** Each server config's resident memory after its load. */
  memory: Map<string, Memory>;
  /** The default server on reviews and on sentences. */
  reviews: Map<number, HttpSpeed>;
  sentences: Map<number, HttpSpeed>;
}

const DEFAULT_CONFIG = 'default';

const layoutName = ({ sessions, threads }: { sessions: number; threads: number }) =>
  `${sessions} session${sessions === 1 ? '' : 's'} × ${threads} thread${threads === 1 ? '' : 's'}`;

/** `bodies` round-robin at `connections` for `duration` seconds. */
function load(port: number, bodies: string[], connections: number, duration: number): Promise<HttpSpeed> {
  return new Promise<HttpSpeed>((resolve, reject) => {
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
}

/**
 * Waits until the server has answered what a load left queued (requests the load gave up on are
 * still computed): one more request, answered after them, retried while the server says it is
 * busy (503). Each load then starts on an idle server.
 */
async function drain(port: number): Promise<void> {
  const deadline = Date.now() + 120_000;
  while (!(await predictOk(port, 'drain'))) {
    if (Date.now() > deadline) throw new Error('the server did not answer within 120 s of the load');
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

export const httpLoadMeasurement: Measurement<HttpLoad> = {
  name: 'http',
  async run({ seconds, threads, reviews, sentences, childEnv, classifier, progress }) {
    const { sessions } = classifier.layout;
    const other =
      sessions === 1
        ? { name: `${threads} single-threaded sessions`, env: { PREDICT_SESSIONS: String(threads), PREDICT_THREADS: '1' } }
        : { name: `one ${threads}-thread session`, env: { PREDICT_SESSIONS: '1', PREDICT_THREADS: String(threads) } };
    const configs: { name: string; env: Record<string, string>; sets: Record<string, string[]> }[] = [
      { name: `${DEFAULT_CONFIG}: ${layoutName(classifier.layout)}`, env: {}, sets: { IMDB: reviews, 'SST-2': sentences } },
      { ...other, sets: { IMDB: reviews } },
      { name: 'one session on the event loop', env: { PREDICT_SESSIONS: '0', PREDICT_THREADS: String(threads) }, sets: { IMDB: reviews } },
    ];
    const runs = new Map<string, Map<number, HttpSpeed>>();
    const memory = new Map<string, Memory>();
    for (const config of configs) {
      const port = await freePort();
      progress(`starting mlops serve predict on port ${port} (${config.name})`);
      const server = startNode([join(REPO_ROOT, 'apps/cli/bin/mlops.js'), 'serve', 'predict', '--port', String(port)], {
        ...childEnv,
        ...config.env,
      });
      try {
        await until(server, 'ready', async () => (await fetch(`http://127.0.0.1:${port}/readyz`)).status === 200, 120_000);
        for (const [set, texts] of Object.entries(config.sets)) {
          const bodies = texts.map((text) => JSON.stringify({ text }));
          const results = new Map<number, HttpSpeed>();
          runs.set(`${set}, ${config.name}`, results);
          progress(`HTTP warm-up, 1 s at c=16 (${set})`);
          await load(port, bodies, 16, 1);
          await drain(port);
          for (const c of CONCURRENCY) {
            progress(`HTTP load, c=${c} for ${seconds} s (${set}, ${config.name})`);
            results.set(c, await load(port, bodies, c, seconds));
            await drain(port);
          }
        }
        memory.set(config.name, await memoryOf(server));
      } finally {
        await stopChild(server);
      }
    }
    const [defaults] = configs;
    return { runs, memory, reviews: runs.get(`IMDB, ${defaults!.name}`)!, sentences: runs.get(`SST-2, ${defaults!.name}`)! };
  },
  report({ runs, memory }) {
    const memoryLines = [...memory].map(([config, m]) => `- ${config}: ${m.rssMiB.toFixed(0)} MiB (peak ${m.peakMiB.toFixed(0)} MiB)`);
    return {
      after: [`Resident memory of \`mlops serve predict\` after its load:\n\n${memoryLines.join('\n')}`],
      rows: [...runs].flatMap(([run, results]) =>
        CONCURRENCY.map((c) => {
          const speed = results.get(c);
          return speedRow(
            `HTTP POST /v1/predict, c=${c} (${run})`,
            speed,
            'per request',
            `1 text/request; non-2xx ${speed?.non2xx ?? '—'}, errors ${speed?.errors ?? '—'}`,
          );
        }),
      ),
    };
  },
};
