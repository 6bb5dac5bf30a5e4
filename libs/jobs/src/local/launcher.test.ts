import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { LocalProcessLauncher } from './launcher.ts';

const fixture = fileURLToPath(new URL('./fake-trainer.fixture.mjs', import.meta.url));

describe('LocalProcessLauncher', () => {
  let logDir: string;
  const started: Array<{ launcher: LocalProcessLauncher; id: string }> = [];

  beforeAll(async () => {
    logDir = await mkdtemp(join(tmpdir(), 'jobs-local-'));
  });
  afterEach(async () => {
    // Whatever a failed assertion left running is stopped here.
    await Promise.all(started.splice(0).map(({ launcher, id }) => launcher.cancel(id)));
  });
  afterAll(async () => {
    await rm(logDir, { recursive: true, force: true });
  });

  function setUp(killGraceMs = 200) {
    const events: Array<{ runId: string; event: Record<string, unknown> }> = [];
    const listeners: Array<() => void> = [];
    const launcher = new LocalProcessLauncher({
      command: [process.execPath, fixture],
      logDir,
      env: { PATH: process.env.PATH ?? '', FAKE_TRAINER_ECHO: 'base' },
      killGraceMs,
      onEvent: (runId, event) => {
        events.push({ runId, event });
        for (const listener of listeners) listener();
      },
    });
    const launch = async (runId: string, mode: string, args: string[] = []) => {
      const status = await launcher.launch({ runId, args, env: { FAKE_TRAINER_MODE: mode } });
      started.push({ launcher, id: runId });
      return status;
    };
    const eventSeen = (phase: string) =>
      new Promise<void>((resolve) => {
        const check = () => {
          if (events.some(({ event }) => event.phase === phase)) resolve();
        };
        listeners.push(check);
        check();
      });
    return { launcher, events, launch, eventSeen };
  }

  it('runs the trainer, streams its JSON lines to onEvent and succeeds on an ok result with exit 0', async () => {
    const { launcher, events, launch } = setUp();
    const launched = await launch('run-ok', 'success', ['--data', 'file:///d.jsonl', '--epochs', '2']);
    expect(launched).toMatchObject({ id: 'run-ok', launcher: 'local', state: 'running' });
    expect(launched.startedAt).toMatch(/^\d{4}-\d\d-\d\dT/);

    const final = await launcher.wait('run-ok');
    expect(final).toMatchObject({
      id: 'run-ok',
      state: 'succeeded',
      result: { phase: 'result', ok: true, version: 'v2', args: ['--data', 'file:///d.jsonl', '--epochs', '2'] },
    });
    expect(final.message).toBeUndefined();
    expect(final.finishedAt).toBeDefined();
    expect(await launcher.status('run-ok')).toEqual(final);

    // The non-JSON and half-JSON lines are skipped; request.env is merged over the base env.
    expect(events.map(({ runId, event }) => [runId, event.phase])).toEqual([
      ['run-ok', 'start'],
      ['run-ok', 'core'],
      ['run-ok', 'result'],
    ]);
    expect(events[0]?.event).toMatchObject({ args: ['--data', 'file:///d.jsonl', '--epochs', '2'], echo: 'base' });

    const log = await readFile(join(logDir, 'run-ok.log'), 'utf8');
    expect(log).toContain('a library printed this, not JSON');
    expect(log).toContain('"phase":"result"');
  });

  it('fails with the result error when the trainer reports ok:false and exits 1', async () => {
    const { launcher, launch } = setUp();
    await launch('run-fail', 'fail');
    const final = await launcher.wait('run-fail');
    expect(final).toMatchObject({ state: 'failed', result: { ok: false, code: 'NOT_FOUND' } });
    expect(final.message).toBe('training data not found (exit code 1)');
  });

  it('fails with the tail of stderr when the trainer crashes without a result line', async () => {
    const { launcher, launch } = setUp();
    await launch('run-crash', 'crash');
    const final = await launcher.wait('run-crash');
    expect(final.state).toBe('failed');
    expect(final.result).toBeUndefined();
    expect(final.message).toContain('Error: fixture exploded');
    expect(final.message).toMatch(/\(exit code 1\)$/);
    expect(await readFile(join(logDir, 'run-crash.log'), 'utf8')).toContain('fixture exploded');
  });

  it('says running while the job runs, refuses the same runId meanwhile, and cancels with SIGTERM', async () => {
    const { launcher, launch, eventSeen } = setUp();
    await launch('run-slow', 'slow');
    await eventSeen('waiting'); // its SIGTERM handler is installed
    expect((await launcher.status('run-slow')).state).toBe('running');
    await expect(launcher.launch({ runId: 'run-slow', args: [] })).rejects.toThrow(/run-slow is already running/);

    await launcher.cancel('run-slow');
    const final = await launcher.status('run-slow');
    expect(final).toMatchObject({ state: 'failed', result: { ok: false, code: 'ABORTED' } });
    expect(final.message).toBe('cancelled: training aborted (exit code 1)');
    expect(await launcher.wait('run-slow')).toEqual(final);

    // Once it has finished, the runId can run again.
    await launch('run-slow', 'success');
    expect((await launcher.wait('run-slow')).state).toBe('succeeded');
  });

  it('escalates to SIGKILL when the job ignores SIGTERM', async () => {
    const { launcher, launch, eventSeen } = setUp(300);
    await launch('run-stubborn', 'stubborn');
    await eventSeen('waiting');
    const began = Date.now();
    await launcher.cancel('run-stubborn');
    expect(Date.now() - began).toBeGreaterThanOrEqual(250);
    const final = await launcher.status('run-stubborn');
    expect(final).toMatchObject({ state: 'failed', message: 'cancelled: no result line (killed by SIGKILL)' });
  });

  it('names an unknown id, rejects a bad runId and reports a command that cannot start', async () => {
    const { launcher } = setUp();
    await expect(launcher.status('nope')).rejects.toThrow(/Unknown local training job "nope"/);
    await expect(launcher.wait('nope')).rejects.toThrow(/"nope"/);
    await expect(launcher.cancel('nope')).rejects.toThrow(/"nope"/);
    await expect(launcher.launch({ runId: 'Bad_Id', args: [] })).rejects.toThrow(/runId/);

    const missing = new LocalProcessLauncher({ command: [join(logDir, 'no-such-binary')], logDir });
    await expect(missing.launch({ runId: 'run-missing', args: [] })).rejects.toThrow(/Cannot start training job run-missing .*ENOENT/);
    await expect(missing.status('run-missing')).rejects.toThrow(/Unknown/);
  });
});
