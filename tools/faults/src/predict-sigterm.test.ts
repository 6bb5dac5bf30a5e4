// SIGTERM to a predict server under load (Cloud Run's scale-in): in-flight requests are answered,
// the process exits 0 within its shutdown deadline, and the prediction log holds every prediction
// it answered, once.
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from '@mlops/config';
import { createTinyModel } from '@mlops/inference/testing';
import { createRegistry } from '@mlops/registry';
import { openStore } from '@mlops/storage';
import { afterAll, expect, it } from 'vitest';
import { recordFault } from './fault-table.ts';
import { finished, freePort, startChild } from './helpers.ts';

const NODE_HOST = join(REPO_ROOT, 'apps', 'predict', 'src', 'hosts', 'node.ts');
const CONCURRENCY = 50;
const SHUTDOWN_DEADLINE_MS = 8_000;
const REQUEST_TIMEOUT_MS = 20_000;

const children: { kill(signal?: NodeJS.Signals): boolean }[] = [];
afterAll(() => {
  for (const child of children) child.kill('SIGKILL');
});

it('drains in-flight requests, exits 0 within the deadline and logs every prediction it answered', async () => {
  const root = await mkdtemp(join(tmpdir(), 'faults-sigterm-'));
  const storeDir = join(root, 'store');
  const store = openStore(storeDir);
  await createRegistry(store).registerVersion(await createTinyModel({ seed: 1 }), { actor: 'fault-test', reason: 'fixture' });
  const port = await freePort();
  const child = startChild(NODE_HOST, {
    MLOPS_STORE: storeDir,
    MLOPS_CACHE_DIR: join(root, 'cache'),
    PORT: String(port),
    PREDICT_LOG_SAMPLE_RATE: '1',
    PREDICT_LOG_FLUSH_SECONDS: '3600',
    PREDICT_SESSIONS: '1',
    LOG_LEVEL: 'warn',
  });
  children.push(child);
  const exited = finished(child);
  const url = `http://127.0.0.1:${port}`;
  for (let ready = false; !ready;) {
    ready = await fetch(`${url}/healthz`).then(
      (r) => r.ok,
      () => false,
    );
    if (!ready) await new Promise((resolve) => setTimeout(resolve, 100));
    if (child.exitCode !== null) throw new Error(`predict exited before listening: ${(await exited).stderr}`);
  }

  const answered: string[] = [];
  const outcomes = { ok: 0, connectionError: 0, hung: 0, otherStatus: 0 };
  let stop = false;
  const worker = async (w: number) => {
    for (let i = 0; !stop; i++) {
      try {
        const res = await fetch(`${url}/v1/predict`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ texts: [`a good film ${w}-${i}`, `an awful plot ${w}-${i}`] }),
          signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
        });
        if (res.status !== 200) {
          outcomes.otherStatus++;
          await res.body?.cancel();
          continue;
        }
        const body = (await res.json()) as { predictions: { id: string }[] };
        outcomes.ok++;
        answered.push(...body.predictions.map((p) => p.id));
      } catch (error) {
        if ((error as Error).name === 'TimeoutError') outcomes.hung++;
        else outcomes.connectionError++;
        if (child.exitCode !== null || child.signalCode !== null) return;
        await new Promise((resolve) => setTimeout(resolve, 20)); // refused: the server is closing
      }
    }
  };
  const load = Array.from({ length: CONCURRENCY }, (_, w) => worker(w));
  // Load until a few hundred answers are in, then SIGTERM in the middle of it.
  while (outcomes.ok < 200) await new Promise((resolve) => setTimeout(resolve, 50));
  const okAtSignal = outcomes.ok;
  const signalled = performance.now();
  child.kill('SIGTERM');
  const result = await exited;
  const exitMs = Math.round(performance.now() - signalled);
  stop = true;
  await Promise.all(load);

  expect(result.code, result.stderr).toBe(0);
  expect(exitMs).toBeLessThan(SHUTDOWN_DEADLINE_MS);
  expect(outcomes.hung).toBe(0);
  expect(outcomes.otherStatus).toBe(0);
  const logged: string[] = [];
  for (const { key } of await store.list('logs/predictions/')) {
    for (const line of (await store.get(key)).body.toString().trim().split('\n')) {
      if (line) logged.push((JSON.parse(line) as { prediction_id: string }).prediction_id);
    }
  }
  expect(logged.length).toBe(answered.length);
  expect(new Set(logged)).toEqual(new Set(answered));
  expect(new Set(logged).size).toBe(logged.length);
  recordFault({
    group: 3,
    fault: `SIGTERM to predict (node host, child process) under ${CONCURRENCY} concurrent /v1/predict loops`,
    observed: `${outcomes.ok} answered 200 (${okAtSignal} before the signal), ${outcomes.connectionError} connection errors after it, ${outcomes.hung} hung, ${outcomes.otherStatus} other statuses; exit code ${result.code} ${exitMs} ms after SIGTERM (deadline ${SHUTDOWN_DEADLINE_MS} ms)`,
    failed: outcomes.connectionError + outcomes.hung + outcomes.otherStatus,
    after: `prediction log: ${logged.length} records for ${answered.length} predictions answered (2 per request), ids identical, none doubled`,
  });
});
