// The store (S3 through the fault proxy) goes down while the loop's functions run: predict keeps
// serving the model it has; evaluate, retrain-trigger and promote answer an error in bounded time
// and leave nothing half done; once the store is back the same calls succeed.
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { FaultMode } from './fault-proxy.ts';
import { recordFault } from './fault-table.ts';
import { count, lockState, startFaultyS3, STORE_TIMEOUT_MS, useStoreEnv, withTimeout, type FaultyS3 } from './helpers.ts';
import {
  call,
  evaluateApp,
  modelFolders,
  predictService,
  promoteApp,
  RecordingLauncher,
  retrainApp,
  setUpLoop,
  TRIGGER,
  type Answer,
  type Loop,
} from './loop-fixture.ts';

/** How long a failing call may take: the SDK's attempts (3) at the store timeout each, with backoff. */
const BOUND_MS = 10 * STORE_TIMEOUT_MS;

let s3: FaultyS3;
let root: string;
let models: string[];
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'faults-down-'));
  s3 = await startFaultyS3();
  useStoreEnv(s3.env);
  models = await modelFolders();
});
afterAll(async () => {
  await s3?.stop();
});

/** The registry's objects as stored (alias records byte for byte, audit event keys), and the retrain lock. */
async function rawState(loop: Loop) {
  const aliases: Record<string, string> = {};
  for (const { key } of await loop.store.list('models/sentiment/aliases/')) aliases[key] = (await loop.store.get(key)).body.toString();
  const audit = (await loop.store.list('models/sentiment/audit/')).map((o) => o.key);
  const runs = (await loop.store.list('runs/')).map((o) => o.key);
  return { aliases, audit, runs, lock: await lockState(loop.store) };
}

async function predictionIds(loop: Loop): Promise<string[]> {
  const ids: string[] = [];
  for (const { key } of await loop.store.list('logs/predictions/')) {
    for (const line of (await loop.store.get(key)).body.toString().trim().split('\n')) {
      const record = JSON.parse(line) as { prediction_id: string; request_id: string };
      if (record.request_id !== 'r') ids.push(record.prediction_id); // not the fixture's canary traffic
    }
  }
  return ids;
}

const show = (a: Answer) => `${a.status} in ${(a.ms / 1000).toFixed(1)} s`;

describe.each<{ name: string; mode: FaultMode }>([
  { name: 'black hole (requests accepted, never answered)', mode: { kind: 'blackhole' } },
  { name: '503 SlowDown on every request', mode: { kind: 'errors', count: Number.POSITIVE_INFINITY } },
  { name: 'every connection reset', mode: { kind: 'reset' } },
])('the store down: $name', ({ name, mode }) => {
  it('predict answers from its model; evaluate, trigger, rollback and review fail in bounded time, change nothing, and succeed once it is back', async () => {
    const loop = await setUpLoop(s3.uri(`down-${mode.kind}`), join(root, mode.kind), models);
    const predict = predictService(loop);
    await predict.start();
    const texts = ['a good film', 'an awful plot'];
    const served: string[] = [];
    const predictOnce = async () => {
      const answer = await call(predict.app, '/v1/predict', { texts });
      if (answer.status === 200) served.push(...(answer.body as { predictions: { id: string }[] }).predictions.map((p) => p.id));
      return answer;
    };
    expect((await predictOnce()).status).toBe(200);
    const evaluate = evaluateApp(loop);
    const launcher = new RecordingLauncher();
    const retrain = retrainApp(loop, launcher);
    const [promoteA, promoteB] = [promoteApp(loop), promoteApp(loop)]; // an instance runs its decisions one at a time
    const before = await rawState(loop);

    s3.proxy.set(mode);
    s3.proxy.resetStats();
    const outageStart = performance.now();
    let settled = false;
    const failing = Promise.all([
      call(evaluate, '/v1/evaluate'),
      call(retrain, '/v1/trigger', TRIGGER),
      call(promoteA, '/v1/rollback', { reason: 'fault test' }),
      call(promoteB, '/v1/canary/review'),
    ]).finally(() => (settled = true));
    const predictions: Answer[] = [];
    // Also through at least two of predict's alias polls (1 s), which fail meanwhile.
    const pollsUntil = performance.now() + 2_500;
    while (!settled || performance.now() < pollsUntil) {
      predictions.push(await predictOnce());
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const [evaluated, triggered, rolledBack, reviewed] = await failing;
    const outage = s3.proxy.stats();
    s3.proxy.set({ kind: 'pass' });
    const outageMs = performance.now() - outageStart;

    for (const answer of [evaluated, triggered, rolledBack, reviewed]) {
      expect(answer.status, JSON.stringify(answer)).toBeGreaterThanOrEqual(500);
      expect(answer.json, JSON.stringify(answer)).toBe(true);
      expect(answer.body).toMatchObject({ error: expect.any(String), request_id: expect.any(String) });
      expect(answer.ms).toBeLessThan(BOUND_MS);
    }
    expect(predictions.every((p) => p.status === 200)).toBe(true);
    const slowestPredict = Math.max(...predictions.map((p) => p.ms));

    // Back up: nothing changed by the failed calls.
    const after = await rawState(loop);
    expect(after).toEqual(before);
    expect(after.lock).toBe('absent');
    expect(launcher.launched).toHaveLength(0);
    const trail = await loop.registry.audit();
    expect(trail).toHaveLength(before.audit.length); // every alias record's events were already there: none half written
    expect((await predictOnce()).status).toBe(200);
    await predict.stop(); // flushes the prediction log
    const logged = await predictionIds(loop);
    expect(logged.sort()).toEqual([...served].sort());

    // The same calls succeed now.
    const evaluatedAgain = await call(evaluate, '/v1/evaluate');
    const triggeredAgain = await call(retrain, '/v1/trigger', TRIGGER);
    const reviewedAgain = await call(promoteB, '/v1/canary/review');
    const rolledBackAgain = await call(promoteA, '/v1/rollback', { reason: 'fault test' });
    expect(evaluatedAgain.status, JSON.stringify(evaluatedAgain.body)).toBe(200);
    expect(triggeredAgain.status, JSON.stringify(triggeredAgain.body)).toBe(202);
    expect(launcher.launched).toHaveLength(1);
    expect(reviewedAgain.body).toMatchObject({ decision: 'complete' });
    expect(rolledBackAgain.body).toEqual({ from: 'v3', to: 'v2' });
    const final = await loop.registry.audit();
    expect(count(final, (e) => e.action === 'promote')).toBe(1);
    expect(count(final, (e) => e.action === 'rollback')).toBe(1);
    expect((await loop.registry.getAlias('champion'))?.version).toBe('v2');
    const lock = await lockState(loop.store);
    expect(lock).toMatch(/^held by r-/); // the run just started holds it, as it should

    recordFault({
      group: 4,
      fault: `store down (S3 via proxy, ${name}; store timeouts ${STORE_TIMEOUT_MS} ms)`,
      observed:
        `predict ${predictions.filter((p) => p.status === 200).length}/${predictions.length} answered 200 from its loaded model (slowest ${slowestPredict} ms) through a ${(outageMs / 1000).toFixed(1)} s outage with its 1 s alias polls; ` +
        `evaluate ${show(evaluated)}, trigger ${show(triggered)}, rollback ${show(rolledBack)}, canary review ${show(reviewed)}, each with a JSON error body; ` +
        `proxy: ${outage.requests} store requests, ${outage.faulted} faulted`,
      failed: [evaluated, triggered, rolledBack, reviewed].length,
      after:
        `aliases, audit keys (${before.audit.length}) and runs/ byte-identical to before; lock ${after.lock}; 0 jobs launched; prediction log ${logged.length}/${served.length} predictions; ` +
        `then evaluate ${evaluatedAgain.status}, trigger ${triggeredAgain.status} (1 job), review complete (champion v3), rollback v3→v2: one promote and one rollback event`,
    });
  });
});

/** Requests whose object key ends with `suffix` (path-style: /bucket/prefix/key), of `method`. */
const onKey = (method: string, test: (path: string) => boolean) => (request: { method: string; path: string }) =>
  request.method === method && test(decodeURIComponent(request.path.split('?')[0]!));

describe('the store failing in the middle of a call', () => {
  // Found by this suite: the trigger's failure path wrote the run record before releasing the lock,
  // so a store failing there left the lock held until the 30 min start deadline.
  it('trigger: writes fail after the lock was taken (an outage starting mid-call)', async () => {
    const loop = await setUpLoop(s3.uri('mid-lock'), join(root, 'mid-lock'), models);
    const launcher = new RecordingLauncher();
    const retrain = retrainApp(loop, launcher);
    s3.proxy.set(
      { kind: 'errors', count: Number.POSITIVE_INFINITY },
      onKey('PUT', (path) => !path.endsWith('/runs/active.json')),
    );
    s3.proxy.resetStats();
    const failed = await call(retrain, '/v1/trigger', TRIGGER);
    const faulted = s3.proxy.stats().faulted;
    s3.proxy.set({ kind: 'pass' });
    const lock = await lockState(loop.store);
    const again = await call(retrain, '/v1/trigger', TRIGGER);
    recordFault({
      group: 5,
      fault: 'retrain trigger: every write but runs/active.json answers 503 (the store failing right after the lock is taken)',
      observed: `trigger ${show(failed)}: ${JSON.stringify(failed.body).slice(0, 160)}; ${faulted} writes faulted`,
      failed: 1,
      after: `lock ${lock}; the next trigger (store healthy) answered ${again.status} ${JSON.stringify(again.body).slice(0, 120)}; ${launcher.launched.length} jobs launched`,
    });
    expect(failed.status).toBeGreaterThanOrEqual(500);
    expect(lock).not.toMatch(/^held/);
    expect(again.status).toBe(202);
  });

  // Found by this suite: RunStore.lock took the 412 answering the SDK's retry of its own landed
  // write for another run's lock, and nobody held the lock it wrote until the start deadline.
  it("trigger: the lock write's answer is lost (it landed; the SDK retries it)", async () => {
    const loop = await setUpLoop(s3.uri('lost-lock'), join(root, 'lost-lock'), models);
    const launcher = new RecordingLauncher();
    const retrain = retrainApp(loop, launcher);
    s3.proxy.set(
      { kind: 'reset', count: 1, when: 'after' },
      onKey('PUT', (path) => path.endsWith('/runs/active.json')),
    );
    const first = await call(retrain, '/v1/trigger', TRIGGER);
    s3.proxy.set({ kind: 'pass' });
    const lock = await lockState(loop.store);
    const again = await call(retrain, '/v1/trigger', TRIGGER);
    recordFault({
      group: 5,
      fault: 'retrain trigger: connection reset after the lock PUT reached the store (answer lost)',
      observed: `trigger ${show(first)}: ${JSON.stringify(first.body).slice(0, 160)}`,
      failed: 1,
      after: `lock ${lock}; the next trigger answered ${again.status} ${JSON.stringify(again.body).slice(0, 120)}; ${launcher.launched.length} jobs launched`,
    });
    // The lock it wrote is its own: the run started, holds it, and the next trigger waits for it.
    expect(first.status).toBe(202);
    expect(lock).toBe(`held by ${(first.body as { run: { run_id: string } }).run.run_id}`);
    expect(launcher.launched.length).toBe(1);
  });

  it("a 503 burst shorter than the SDK's attempts: a canary review and a rollback go through", async () => {
    const loop = await setUpLoop(s3.uri('burst'), join(root, 'burst'), models);
    const promote = promoteApp(loop);
    s3.proxy.set({ kind: 'errors', count: 2 });
    s3.proxy.resetStats();
    const reviewed = await call(promote, '/v1/canary/review');
    const burst = s3.proxy.stats().byKind.errors;
    s3.proxy.set({ kind: 'errors', count: 2 });
    const rolledBack = await call(promote, '/v1/rollback', { reason: 'fault test' });
    s3.proxy.set({ kind: 'pass' });
    const trail = await loop.registry.audit();
    recordFault({
      group: 5,
      fault: '503 burst of 2 requests (S3 via proxy) at the start of a canary review, then of a rollback',
      observed: `review ${show(reviewed)} ${(reviewed.body as { decision?: string }).decision}, rollback ${show(rolledBack)} ${JSON.stringify(rolledBack.body)}; ${burst} + 2 requests answered 503, retried by the SDK`,
      failed: [reviewed, rolledBack].filter((a) => a.status !== 200).length,
      after: `champion ${(await loop.registry.getAlias('champion'))?.version}; ${count(trail, (e) => e.action === 'promote')} promote, ${count(trail, (e) => e.action === 'rollback')} rollback event`,
    });
    expect(reviewed.body).toMatchObject({ decision: 'complete' });
    expect(rolledBack.body).toEqual({ from: 'v3', to: 'v2' });
    expect(count(trail, (e) => e.action === 'promote')).toBe(1);
    expect(count(trail, (e) => e.action === 'rollback')).toBe(1);
  });

  // Found by this suite: S3Store.uploadFile had no response timeout, so a server that took the body
  // and never answered held registerVersion, and the training job, forever.
  it('registerVersion: a black hole on the model file uploads ends in bounded time', async () => {
    const loop = await setUpLoop(s3.uri('upload-hole'), join(root, 'upload-hole'), models);
    const dir = (await modelFolders())[0]!;
    s3.proxy.set(
      { kind: 'blackhole' },
      onKey('PUT', (path) => /\/versions\/v\d+\/(?!\.claim$|version\.json$)/.test(path)),
    );
    const start = performance.now();
    const registering = loop.registry.registerVersion(dir, { actor: 'fault-test', reason: 'upload hole' }).then(
      (info) => `registered ${info.version}`,
      (error: Error) => `failed: ${error.message.slice(0, 100)}`,
    );
    const outcome = await withTimeout(registering, BOUND_MS, 'registerVersion').catch((error: Error) => error.message);
    const ms = Math.round(performance.now() - start);
    const held = s3.proxy.stats().byKind.blackhole;
    // Ends the held uploads; the SDK warns once per upload that a streamed request is not retried.
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    s3.proxy.set({ kind: 'pass' });
    const settled = await registering.finally(() => warn.mockRestore());
    recordFault({
      group: 5,
      fault: 'registerVersion (S3): black hole on the model file uploads only (accepted, never answered)',
      observed: `${outcome} (after ${(ms / 1000).toFixed(1)} s; ${held} uploads held); once the hole closed: ${settled}`,
      failed: 1,
      after: `versions [${(await loop.registry.listVersions()).map((v) => v.version).join(', ')}]`,
    });
    expect(outcome).not.toMatch(/did not finish/);
  });

  it("registerVersion: the version claim's answer is lost", async () => {
    const loop = await setUpLoop(s3.uri('lost-claim'), join(root, 'lost-claim'), models);
    const dir = (await modelFolders())[0]!;
    s3.proxy.set(
      { kind: 'reset', count: 1, when: 'after' },
      onKey('PUT', (path) => path.endsWith('/.claim')),
    );
    const info = await loop.registry.registerVersion(dir, { actor: 'fault-test', reason: 'lost claim' });
    s3.proxy.set({ kind: 'pass' });
    const retried = await loop.registry.registerVersion(dir, { actor: 'fault-test', reason: 'lost claim' });
    const versions = (await loop.registry.listVersions()).map((v) => v.version);
    const claims = (await loop.store.list('models/sentiment/versions/'))
      .filter((o) => o.key.endsWith('/.claim'))
      .map((o) => o.key.split('/')[3]);
    const registers = count(await loop.registry.audit(), (e) => e.action === 'register');
    recordFault({
      group: 5,
      fault: 'registerVersion (S3): connection reset after the .claim PUT reached the store (answer lost)',
      observed: `registered as ${info.version}; a retry returned ${retried.version}`,
      failed: 0,
      after: `versions [${versions.join(', ')}], claims [${claims.join(', ')}], ${registers} register events`,
    });
    expect(retried.version).toBe(info.version);
    expect(versions).toHaveLength(4);
    expect(registers).toBe(4);
  });

  it("rollback: the champion alias write's answer is lost", async () => {
    const loop = await setUpLoop(s3.uri('lost-alias'), join(root, 'lost-alias'), models);
    const promote = promoteApp(loop);
    s3.proxy.set(
      { kind: 'reset', count: 1, when: 'after' },
      onKey('PUT', (path) => path.endsWith('/aliases/champion.json')),
    );
    const rolledBack = await call(promote, '/v1/rollback', { reason: 'fault test' });
    s3.proxy.set({ kind: 'pass' });
    const retried = await call(promote, '/v1/rollback', { reason: 'fault test' });
    const trail = await loop.registry.audit();
    const rollbacks = count(trail, (e) => e.action === 'rollback');
    const moves = count(trail, (e) => e.action === 'set-alias' && e.alias === 'champion' && e.from === 'v2' && e.to === 'v1');
    recordFault({
      group: 5,
      fault: 'rollback (S3): connection reset after the champion alias PUT reached the store (answer lost)',
      observed: `rollback ${show(rolledBack)} ${JSON.stringify(rolledBack.body)}; a retry ${retried.status} ${JSON.stringify(retried.body)}`,
      failed: rolledBack.status === 200 ? 0 : 1,
      after: `champion ${(await loop.registry.getAlias('champion'))?.version}; ${rollbacks} rollback event, ${moves} champion move v2→v1`,
    });
    expect(rolledBack.body).toEqual({ from: 'v2', to: 'v1' });
    expect(rollbacks).toBe(1);
    expect(moves).toBe(1);
  });
});
