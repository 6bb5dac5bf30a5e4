// Racing calls on S3 through the proxy with 30 ms added to every store request: several instances
// of retrain-trigger and promote decide the same thing at once, and it is done once.
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { recordFault } from './fault-table.ts';
import { count, lockState, startFaultyS3, useStoreEnv, type FaultyS3 } from './helpers.ts';
import {
  call,
  modelFolders,
  promoteApp,
  RecordingLauncher,
  retrainApp,
  setUpLoop,
  TRIGGER,
  type Answer,
  type Loop,
} from './loop-fixture.ts';

const LATENCY_MS = 30;

let s3: FaultyS3;
let loop: Loop;
beforeAll(async () => {
  const root = await mkdtemp(join(tmpdir(), 'faults-race-'));
  s3 = await startFaultyS3();
  useStoreEnv(s3.env);
  loop = await setUpLoop(s3.uri('race'), root, await modelFolders());
  s3.proxy.set({ kind: 'latency', ms: LATENCY_MS });
});
afterAll(async () => {
  await s3?.stop();
});

const statuses = (answers: Answer[]) => {
  const tally = new Map<string, number>();
  for (const a of answers) {
    const body = a.body as { decision?: string; started?: boolean; repeated?: boolean };
    const what = `${a.status}${body.decision ? ` ${body.decision}` : ''}${body.started !== undefined ? ` started=${body.started}` : ''}${body.repeated ? ' repeated' : ''}`;
    tally.set(what, (tally.get(what) ?? 0) + 1);
  }
  return [...tally].map(([what, n]) => `${n}× ${what}`).join(', ');
};

it('5 concurrent triggers on two retrain-trigger instances launch one job', async () => {
  const launcher = new RecordingLauncher();
  const instances = [retrainApp(loop, launcher), retrainApp(loop, launcher)];
  const answers = await Promise.all(Array.from({ length: 5 }, (_, i) => call(instances[i % 2]!, '/v1/trigger', TRIGGER)));
  const runs = (await loop.store.list('runs/')).filter((o) => o.key.endsWith('/run.json')).length;
  const starts = count(await loop.registry.audit(), (e) => e.action === 'retrain-start');
  const lock = await lockState(loop.store);
  recordFault({
    group: 6,
    fault: `5 concurrent /v1/trigger on 2 retrain-trigger instances (S3 +${LATENCY_MS} ms per request)`,
    observed: statuses(answers),
    failed: answers.filter((a) => a.status !== 200 && a.status !== 202).length,
    after: `${launcher.launched.length} job launched, ${runs} run record, ${starts} retrain-start event, lock ${lock.replace(/ r-.*/, ' the started run')}`,
  });
  expect(answers.every((a) => a.status === 200 || a.status === 202)).toBe(true);
  expect(answers.filter((a) => a.status === 202)).toHaveLength(1);
  expect(launcher.launched).toHaveLength(1);
  expect(runs).toBe(1);
  expect(starts).toBe(1);
  expect(lock).toBe(`held by ${launcher.launched[0]!.runId}`);
});

it('3 concurrent canary reviews on three promote instances promote once', async () => {
  const instances = [promoteApp(loop), promoteApp(loop), promoteApp(loop)];
  const answers = await Promise.all(instances.map((app) => call(app, '/v1/canary/review')));
  const trail = await loop.registry.audit();
  const promotes = count(trail, (e) => e.action === 'promote');
  const moves = count(trail, (e) => e.action === 'set-alias' && e.alias === 'champion' && e.to === 'v3');
  const clears = count(trail, (e) => e.action === 'clear-alias' && e.alias === 'challenger');
  recordFault({
    group: 6,
    fault: `3 concurrent /v1/canary/review on 3 promote instances, canary v3 better than champion v2 (S3 +${LATENCY_MS} ms)`,
    observed: statuses(answers),
    failed: answers.filter((a) => a.status !== 200).length,
    after: `champion ${(await loop.registry.getAlias('champion'))?.version}, challenger ${(await loop.registry.getAlias('challenger'))?.version ?? 'cleared'}; ${promotes} promote, ${moves} champion move to v3, ${clears} clear-alias event`,
  });
  expect(answers.every((a) => a.status === 200)).toBe(true);
  expect(answers.some((a) => (a.body as { decision: string }).decision === 'complete')).toBe(true);
  expect(promotes).toBe(1);
  expect(moves).toBe(1);
  expect(clears).toBe(1);
  expect((await loop.registry.getAlias('champion'))?.version).toBe('v3');
  expect(await loop.registry.getAlias('challenger')).toBeUndefined();
});

it('5 concurrent rollbacks on five promote instances move the champion once', async () => {
  const before = count(await loop.registry.audit(), (e) => e.action === 'rollback');
  const instances = Array.from({ length: 5 }, () => promoteApp(loop));
  const answers = await Promise.all(instances.map((app) => call(app, '/v1/rollback', { reason: 'fault test' })));
  const trail = await loop.registry.audit();
  const rollbacks = count(trail, (e) => e.action === 'rollback') - before;
  const moves = count(trail, (e) => e.action === 'set-alias' && e.alias === 'champion' && e.from === 'v3');
  const targets = new Set(answers.map((a) => JSON.stringify({ ...(a.body as object), repeated: undefined })));
  recordFault({
    group: 6,
    fault: `5 concurrent /v1/rollback on 5 promote instances, champion v3 (S3 +${LATENCY_MS} ms)`,
    observed: `${statuses(answers)}; answers ${[...targets].join(' ')}`,
    failed: answers.filter((a) => a.status !== 200).length,
    after: `champion ${(await loop.registry.getAlias('champion'))?.version}; ${moves} champion move from v3, ${rollbacks} rollback event`,
  });
  expect(answers.every((a) => a.status === 200)).toBe(true);
  for (const a of answers) expect(a.body).toMatchObject({ from: 'v3', to: 'v2' });
  expect(moves).toBe(1);
  expect(rollbacks).toBe(1);
  expect((await loop.registry.getAlias('champion'))?.version).toBe('v2');
});
