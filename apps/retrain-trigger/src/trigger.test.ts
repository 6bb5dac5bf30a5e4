import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Alert } from '@mlops/alerts';
import { isHoldout, toJsonl, writeFeedback, feedbackId, type FeedbackRecord } from '@mlops/monitoring';
import { textHash } from '@mlops/data';
import { generatedRatings, RATING_LABELS } from '@mlops/data/testing';
import { LocalProcessLauncher, type JobLauncher, type JobStatus, type TrainingJobRequest } from '@mlops/jobs';
import { createTinyModel } from '@mlops/inference/testing';
import { createRegistry, type ModelRegistry } from '@mlops/registry';
import { openStore, type ObjectStore } from '@mlops/storage';
import pino from 'pino';
import { beforeEach, describe, expect, it } from 'vitest';
import { createRetrainApp } from './app.ts';
import type { RunRecord } from './runs.ts';
import { RetrainTrigger, type RetrainDeps } from './trigger.ts';

/** A launcher that records requests; jobs end when the test says so. */
class RecordingLauncher implements JobLauncher {
  readonly name = 'local' as const;
  readonly requests: TrainingJobRequest[] = [];
  states = new Map<string, JobStatus>();
  fail: Error | undefined;
  async launch(request: TrainingJobRequest): Promise<JobStatus> {
    if (this.fail) throw this.fail;
    this.requests.push(request);
    const status: JobStatus = { id: `job-${request.runId}`, launcher: 'local', state: 'running' };
    this.states.set(status.id, status);
    return status;
  }
  async status(id: string): Promise<JobStatus> {
    return this.states.get(id)!;
  }
}

let store: ObjectStore;
let registry: ModelRegistry;
let launcher: RecordingLauncher;
let alerts: Alert[];
let promoted: { version: string; run_id: string }[];
let deps: RetrainDeps;
let base: string;

const feedback = (n: number, prefix = 'text'): FeedbackRecord[] =>
  Array.from({ length: n }, (_, i) => {
    const text = `${prefix} ${i}`;
    return {
      feedback_id: feedbackId({ text_hash: textHash(text) }),
      time: new Date().toISOString(),
      label: i % 2 ? 'positive' : 'negative',
      text_hash: textHash(text),
      text,
      source: 'api',
    };
  });

beforeEach(async () => {
  const root = await mkdtemp(join(tmpdir(), 'retrain-'));
  store = openStore(join(root, 'store'));
  registry = createRegistry(store);
  await registry.registerVersion(await createTinyModel(), { actor: 't', reason: 'fixture' });
  base = join(root, 'base.jsonl');
  await writeFile(
    base,
    toJsonl(Array.from({ length: 100 }, (_, i) => ({ text: `base review ${i}`, label: i % 2 ? 'positive' : 'negative' }))),
  );
  launcher = new RecordingLauncher();
  alerts = [];
  promoted = [];
  deps = {
    store,
    registry,
    launcher,
    policy: { mode: 'performance', cooldownMinutes: 0, dailyCap: 10, minNewLabels: 50 },
    training: { baseData: base, baseRows: 20, hyperparameters: { epochs: 2, lr: 5e-4 }, gpu: false },
    alerter: { notify: async (a) => (alerts.push(a), []) },
    promote: async (c) => (promoted.push(c), { decision: 'canary' }),
    logger: pino({ level: 'silent' }),
    actor: 'retrain-trigger',
  };
}, 60_000);

const finish = async (runId: string, result: object) => store.put(`runs/${runId}/result.json`, JSON.stringify(result));

describe('RetrainTrigger', () => {
  it('fine-tunes the champion on trainable feedback plus a base sample, one run at a time, and hands the candidate to promote', async () => {
    const rows = feedback(200);
    await writeFeedback(store, [...rows, { ...rows[0]!, feedback_id: 'p:x', prediction_id: 'x', text: undefined }]);
    const trigger = new RetrainTrigger(deps);
    const result = await trigger.trigger({ kind: 'performance', reason: 'accuracy 0.65 below 0.8' });
    expect(result.started).toBe(true);
    if (!result.started) return;
    const { run } = result;
    const trainable = rows.filter((r) => !isHoldout(r.text_hash)).length;
    expect(run.dataset).toMatchObject({ feedback_rows: trainable, base_rows: 20, rows: trainable + 20 });

    const [request] = launcher.requests;
    expect(request!.args).toEqual([
      '--data',
      `store:datasets/${run.run_id}/train.jsonl`,
      '--eval',
      'none',
      '--base-version',
      'v1',
      '--run-id',
      run.run_id,
      '--epochs',
      '2',
      '--lr',
      '0.0005',
      '--reason',
      `retrain ${run.run_id}: accuracy 0.65 below 0.8`,
    ]);
    const written = (await store.get(run.dataset.key)).body
      .toString()
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { text: string });
    expect(written).toHaveLength(trainable + 20);
    expect(written.some((r) => isHoldout(textHash(r.text)) && r.text.startsWith('text'))).toBe(false); // held-out texts never trained on
    const lineage = JSON.parse((await store.get(`datasets/${run.run_id}/lineage.json`)).body.toString());
    expect(lineage).toMatchObject({ rows: trainable + 20, base: { source: base, rows: 20 }, feedback: { rows: trainable } });

    // Single flight: a second trigger while the job runs starts nothing.
    expect(await trigger.trigger({ kind: 'performance', reason: 'still stale' })).toEqual({
      started: false,
      reason: `run ${run.run_id} is still running`,
    });
    expect(launcher.requests).toHaveLength(1);

    await finish(run.run_id, { ok: true, version: 'v2' });
    const settled = await trigger.sync();
    expect(settled).toMatchObject({ status: 'succeeded', version: 'v2' });
    expect(promoted).toEqual([{ version: 'v2', run_id: run.run_id }]);
    expect(alerts.map((a) => a.kind)).toEqual(['retrain-started', 'retrain-finished']);
    expect((await registry.audit()).map((e) => e.action)).toEqual(expect.arrayContaining(['retrain-start', 'retrain-succeeded']));

    // No new labels since the run: nothing to learn.
    expect(await trigger.trigger({ kind: 'performance', reason: 'stale' })).toEqual({
      started: false,
      reason: 'only 0 new labelled rows since the last successful run (need 50)',
    });
  });

  it("builds a four-class champion's training set with its classes, from base data with other column names", async () => {
    const root = await mkdtemp(join(tmpdir(), 'retrain-four-'));
    const fourStore = openStore(join(root, 'store'));
    const fourRegistry = createRegistry(fourStore);
    await fourRegistry.registerVersion(await createTinyModel({ labels: [...RATING_LABELS] }), { actor: 't', reason: 'fixture' });
    const csv = join(root, 'base.csv');
    // A class the champion lacks is a bad row of the base data (1 of 401: under the limit), never a training row.
    const baseRows = [...generatedRatings(400, 3), { text: 'so-so, really', label: 'meh' }];
    await writeFile(csv, ['review,stars_bin', ...baseRows.map((r) => `"${r.text}",${r.label}`)].join('\n'));
    const rated = generatedRatings(200, 9).map((r) => ({
      ...feedback(1, r.text)[0]!,
      text: r.text,
      text_hash: textHash(r.text),
      feedback_id: feedbackId({ text_hash: textHash(r.text) }),
      label: r.label,
    }));
    await writeFeedback(fourStore, rated);

    const trigger = new RetrainTrigger({
      ...deps,
      store: fourStore,
      registry: fourRegistry,
      training: { ...deps.training, baseData: csv, baseRows: 40, baseFields: { textField: 'review', labelField: 'stars_bin' } },
    });
    const result = await trigger.trigger({ kind: 'performance', reason: 'label mix drifted' });
    if (!result.started) throw new Error(result.reason);
    expect(result.run.dataset.base_rows).toBe(40);
    const written = (await fourStore.get(result.run.dataset.key)).body
      .toString()
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { text: string; label: string });
    const baseLabels = written.filter((r) => !rated.some((f) => f.text === r.text)).map((r) => r.label);
    expect(new Set(baseLabels)).toEqual(new Set(RATING_LABELS));
    for (const label of RATING_LABELS) expect(baseLabels.filter((l) => l === label)).toHaveLength(10); // class-balanced
    expect(new Set(written.map((r) => r.label))).toEqual(new Set(RATING_LABELS));
  });

  it('settles a failed job from the launcher, alerts, and releases the lock', async () => {
    await writeFeedback(store, feedback(100));
    const trigger = new RetrainTrigger(deps);
    const result = await trigger.trigger({ kind: 'performance', reason: 'stale' });
    if (!result.started) throw new Error(result.reason);
    launcher.states.set(result.run.job_id, { id: result.run.job_id, launcher: 'local', state: 'failed', message: 'out of memory' });
    expect(await trigger.sync()).toMatchObject({ status: 'failed', message: 'out of memory' });
    expect(alerts.map((a) => a.kind)).toEqual(['retrain-started', 'retrain-failed']);
    expect(promoted).toEqual([]);
    expect((await trigger.trigger({ kind: 'performance', reason: 'again' })).started).toBe(true);
  });

  it('trains only on the labels of trusted callers when MLOPS_TRUSTED_CALLERS lists them', async () => {
    const from = (caller: string, rows: FeedbackRecord[]) => rows.map((r) => ({ ...r, caller }));
    await writeFeedback(store, from('anonymous', feedback(100, 'flipped')));
    const trusted = { ...deps, training: { ...deps.training, trustedCallers: ['oidc:labeler@example.com'] } };
    // Only untrusted labels: not enough new ones to start.
    expect(await new RetrainTrigger(trusted).trigger({ kind: 'performance', reason: 'stale' })).toMatchObject({ started: false });
    await writeFeedback(store, from('oidc:labeler@example.com', feedback(100, 'checked')));
    const result = await new RetrainTrigger(trusted).trigger({ kind: 'performance', reason: 'stale' });
    if (!result.started) throw new Error(result.reason);
    const rows = (await store.get(result.run.dataset.key)).body.toString('utf8');
    expect(rows).toContain('checked ');
    expect(rows).not.toContain('flipped ');
  });

  it('records a launch that fails, so cooldown and cap still apply', async () => {
    await writeFeedback(store, feedback(100));
    launcher.fail = new Error('Cloud Run said 403');
    const trigger = new RetrainTrigger({ ...deps, policy: { ...deps.policy, cooldownMinutes: 60 } });
    expect(await trigger.trigger({ kind: 'performance', reason: 'stale' })).toEqual({
      started: false,
      reason: 'could not start the training job: Cloud Run said 403',
    });
    expect(alerts.map((a) => a.kind)).toEqual(['retrain-failed']);
    launcher.fail = undefined;
    expect(await trigger.trigger({ kind: 'performance', reason: 'stale' })).toMatchObject({
      started: false,
      reason: expect.stringMatching(/^cooldown/),
    });
  });

  it('refuses to retrain a champion imported from ONNX, before launching: 409, an alert, an audit event and a run record', async () => {
    const root = await mkdtemp(join(tmpdir(), 'retrain-onnx-'));
    const onnxStore = openStore(join(root, 'store'));
    const onnxRegistry = createRegistry(onnxStore);
    const onnxOnly = await createTinyModel();
    await rm(join(onnxOnly, 'pytorch_model.bin'));
    await onnxRegistry.registerVersion(onnxOnly, { actor: 't', reason: 'imported' });
    await writeFeedback(onnxStore, feedback(100));
    const trigger = new RetrainTrigger({
      ...deps,
      store: onnxStore,
      registry: onnxRegistry,
      policy: { ...deps.policy, cooldownMinutes: 60 },
    });
    const app = createRetrainApp({ trigger, caller: { apiKey: 'k' }, logger: pino({ level: 'silent' }) });

    const refused = await app.request('/v1/trigger', {
      method: 'POST',
      headers: { authorization: 'Bearer k', 'content-type': 'application/json' },
      body: '{"reason":"stale"}',
    });
    expect(refused.status).toBe(409);
    const message = /^Cannot fine-tune sentiment v1: it has no torch weights .*it was imported from ONNX/;
    expect(await refused.json()).toMatchObject({ error: expect.stringMatching(message) });
    expect(launcher.requests).toEqual([]);
    expect(alerts).toMatchObject([
      { kind: 'retrain-failed', severity: 'warning', version: 'v1', reasons: [expect.stringMatching(message)] },
    ]);
    expect((await onnxRegistry.audit()).at(-1)).toMatchObject({
      action: 'retrain-refused',
      version: 'v1',
      reason: expect.stringMatching(message),
    });
    expect(await trigger.list()).toMatchObject([
      { status: 'failed', base_version: 'v1', job_id: '', message: expect.stringMatching(message) },
    ]);
    // Recorded as a run, so the cooldown keeps a stale champion's every evaluation from alerting again.
    expect(await trigger.trigger({ kind: 'performance', reason: 'stale' })).toMatchObject({
      started: false,
      reason: expect.stringMatching(/^cooldown/),
    });
    expect(await onnxStore.list('runs/active.json')).toEqual([]);
  });

  it('serves the trigger over HTTP with a key and validates the body', async () => {
    await writeFeedback(store, feedback(100));
    const app = createRetrainApp({ trigger: new RetrainTrigger(deps), caller: { apiKey: 'k' }, logger: pino({ level: 'silent' }) });
    const post = (body: string, key = 'k') =>
      app.request('/v1/trigger', { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body });
    expect((await post('{"reason":"x"}', 'bad')).status).toBe(401);
    expect((await post('{"reason":5}')).status).toBe(400);
    expect((await post('{"reason":"x","kind":"sometimes"}')).status).toBe(400);
    const started = await post('{"reason":"stale"}');
    expect(started.status).toBe(202);
    const again = await post('{"reason":"stale"}');
    expect(again.status).toBe(200);
    expect(await again.json()).toMatchObject({ started: false, reason: expect.stringMatching(/still running/) });
    const runs = (await (await app.request('/v1/runs', { headers: { 'x-api-key': 'k' } })).json()) as { runs: unknown[] };
    expect(runs.runs).toHaveLength(1);
  });

  it('after a restart, records a run whose job process was killed (no result) as failed and releases the lock', async () => {
    await writeFeedback(store, feedback(100));
    const logDir = await mkdtemp(join(tmpdir(), 'retrain-jobs-'));
    const pidFile = join(logDir, 'job.pid');
    const local = () =>
      new LocalProcessLauncher({
        command: [
          process.execPath,
          '-e',
          `require('node:fs').writeFileSync(${JSON.stringify(pidFile)}, String(process.pid)); setInterval(() => {}, 1000)`,
          '--', // the trigger's arguments are the script's, not node's
        ],
        logDir,
        env: { PATH: process.env.PATH ?? '' },
        pollMs: 50,
      });
    const before = new RetrainTrigger({ ...deps, launcher: local() });
    const result = await before.trigger({ kind: 'performance', reason: 'stale' });
    if (!result.started) throw new Error(result.reason);
    let pid = 0;
    for (let i = 0; !pid && i < 500; i++) {
      pid = Number(await readFile(pidFile, 'utf8').catch(() => '0'));
      if (!pid) await new Promise((resolve) => setTimeout(resolve, 10));
    }
    expect(pid).toBeGreaterThan(0);
    try {
      // retrain-trigger restarts: a new launcher and trigger on the same log dir and store; the job is still running.
      const after = new RetrainTrigger({ ...deps, launcher: local() });
      expect(await after.sync()).toMatchObject({ run_id: result.run.run_id, status: 'running' });
      process.kill(-pid, 'SIGKILL'); // dies without writing result.json
      // Each sync as from a freshly restarted instance, until the process is gone (a busy machine may take a while).
      let settled: RunRecord | undefined;
      for (let i = 0; i < 100 && settled?.status !== 'failed'; i++) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        settled = await new RetrainTrigger({ ...deps, launcher: local() }).sync();
      }
      expect(settled).toMatchObject({
        run_id: result.run.run_id,
        status: 'failed',
        message: expect.stringMatching(/SIGKILL|no launcher watched it/),
      });
      expect(JSON.parse((await store.get('runs/active.json')).body.toString())).toMatchObject({ released: expect.any(String) });
      expect(await after.sync()).toBeUndefined();
    } finally {
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  });

  describe('one job per lock under concurrent calls', () => {
    /** The same store, with the training set's write held back: the trigger builds for a while with the lock taken. */
    const slowBuilds = (inner: ObjectStore, ms = 150): ObjectStore =>
      new Proxy(inner, {
        get(target, prop, receiver) {
          const value = Reflect.get(target, prop, receiver) as unknown;
          if (prop !== 'put' || typeof value !== 'function') return typeof value === 'function' ? value.bind(target) : value;
          return async (key: string, body: Buffer | string) => {
            if (key.startsWith('datasets/')) await new Promise((r) => setTimeout(r, ms));
            return target.put(key, body);
          };
        },
      });
    const lockTaken = async (s: ObjectStore) => {
      for (;;) {
        const held = await s.get('runs/active.json').then(
          (o) => !(JSON.parse(o.body.toString()) as { released?: string }).released,
          () => false,
        );
        if (held) return;
        await new Promise((r) => setTimeout(r, 5));
      }
    };
    const endJobs = async () => {
      for (const { runId } of launcher.requests) {
        if (!(await store.head(`runs/${runId}/result.json`))) await finish(runId, { ok: false, error: 'test ended it' });
      }
    };

    it('a sync or a second trigger while a trigger builds its training set starts no second job (one instance)', async () => {
      await writeFeedback(store, feedback(100));
      const trigger = new RetrainTrigger({ ...deps, store: slowBuilds(store), policy: { ...deps.policy, dailyCap: 100 } });
      for (let round = 0; round < 4; round++) {
        const first = trigger.trigger({ kind: 'performance', reason: `round ${round}` });
        await lockTaken(store);
        const [, second, , third] = await Promise.all([
          first,
          trigger.trigger({ kind: 'performance', reason: 'again' }),
          trigger.sync(),
          trigger.trigger({ kind: 'performance', reason: 'and again' }),
        ]);
        expect(second.started).toBe(false);
        expect(third.started).toBe(false);
        expect(launcher.requests).toHaveLength(round + 1);
        await endJobs();
        await trigger.sync();
        expect((await trigger.list()).filter((r) => r.status === 'running')).toEqual([]);
        expect(await trigger.sync()).toBeUndefined(); // the lock is released
      }
    });

    it('two instances on one store triggering and syncing at once launch one job per lock and settle it once', async () => {
      await writeFeedback(store, feedback(100));
      const root = (store.uri.startsWith('file://') ? new URL(store.uri).pathname : '').replace(/\/$/, '');
      expect(root).not.toBe('');
      const instance = () => new RetrainTrigger({ ...deps, store: slowBuilds(openStore(root)), policy: { ...deps.policy, dailyCap: 100 } });
      const [a, b] = [instance(), instance()];
      for (let round = 0; round < 4; round++) {
        const both = Promise.all([
          a.trigger({ kind: 'performance', reason: `a ${round}` }),
          b.trigger({ kind: 'performance', reason: `b ${round}` }),
        ]);
        await lockTaken(store);
        const later = await Promise.all([
          b.sync(),
          a.sync(),
          b.trigger({ kind: 'performance', reason: 'b later' }),
          a.trigger({ kind: 'performance', reason: 'a later' }),
        ]);
        const results = [...(await both), later[2], later[3]];
        expect(results.filter((r) => r.started)).toHaveLength(1);
        expect(launcher.requests).toHaveLength(round + 1);
        await endJobs();
        await Promise.all([a.sync(), b.sync()]);
        const runs = await a.list();
        expect(runs.filter((r) => r.status === 'running')).toEqual([]);
        expect(runs.filter((r) => r.job_id !== '')).toHaveLength(round + 1);
      }
      // Each run settled once: one failure alert per job, not one per instance.
      expect(alerts.filter((x) => x.kind === 'retrain-failed')).toHaveLength(4);
    });

    it('breaks a lock without a record only once it is older than the start deadline, and not a newer lock', async () => {
      await writeFeedback(store, feedback(100));
      const trigger = new RetrainTrigger({ ...deps, startDeadlineMs: 60_000 });
      await store.put('runs/active.json', JSON.stringify({ run_id: 'r-building', time: new Date(Date.now() - 30_000).toISOString() }));
      expect(await trigger.sync()).toBeUndefined();
      expect((await trigger.trigger({ kind: 'performance', reason: 'x' })).started).toBe(false); // its trigger may still be building
      await store.put('runs/active.json', JSON.stringify({ run_id: 'r-dead', time: new Date(Date.now() - 120_000).toISOString() }));
      const result = await trigger.trigger({ kind: 'performance', reason: 'after a dead trigger' });
      expect(result.started).toBe(true);
      expect(launcher.requests).toHaveLength(1);
    });
  });
});
