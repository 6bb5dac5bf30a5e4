import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { LocalProcessLauncher } from './launcher.ts';

const fixture = fileURLToPath(new URL('./fake-trainer.fixture.mjs', import.meta.url));
const launcherModule = fileURLToPath(new URL('./launcher.ts', import.meta.url));
/** A job that writes its pid to `pidFile`, prints a start line, then its result after `ms` (never, if ms < 0). */
const sleeper = (ms: number, pidFile: string) => [
  process.execPath,
  '-e',
  [
    `require('node:fs').writeFileSync(${JSON.stringify(pidFile)}, String(process.pid));`,
    `console.log('{"phase":"start"}');`,
    ms < 0 ? 'setInterval(() => {}, 1000);' : `setTimeout(() => console.log('{"phase":"result","ok":true,"version":"v9"}'), ${ms});`,
  ].join(' '),
];
const pidIn = async (pidFile: string) => {
  for (;;) {
    const text = await readFile(pidFile, 'utf8').catch(() => '');
    if (text) return Number(text);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
};

/** Launches a job from a launcher in another process that then exits: what a restart of retrain-trigger leaves behind. */
async function launchFromAnotherProcess(options: object, request: object): Promise<{ id: string; state: string }> {
  const script = [
    `import { LocalProcessLauncher } from ${JSON.stringify(launcherModule)};`,
    `const launcher = new LocalProcessLauncher(${JSON.stringify(options)});`,
    `process.stdout.write(JSON.stringify(await launcher.launch(${JSON.stringify(request)})));`,
    'process.exit(0);',
  ].join('\n');
  const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    cwd: fileURLToPath(new URL('.', import.meta.url)),
  });
  return JSON.parse(stdout) as { id: string; state: string };
}

const jobRecord = async (logDir: string, runId: string) =>
  JSON.parse(await readFile(join(logDir, `${runId}.job.json`), 'utf8')) as { pid: number; state: string; processStart?: string };

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
    expect(final).toMatchObject({ state: 'failed', message: expect.stringMatching(/^cancelled: [\s\S]*\(killed by SIGKILL\)$/) });
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

  describe('after a restart (a new launcher on the same logDir)', () => {
    const alive = (pid: number) => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    const killed: number[] = [];
    afterEach(() => {
      for (const pid of killed.splice(0)) if (alive(pid)) process.kill(-pid, 'SIGKILL');
    });

    it('reports a job its earlier launcher started as running while its process lives, then finished from its log', async () => {
      const options = { command: sleeper(3000, join(logDir, 'restart.pid')), logDir, env: { PATH: process.env.PATH ?? '' } };
      expect(await launchFromAnotherProcess(options, { runId: 'run-restart', args: [] })).toMatchObject({ state: 'running' });
      const pid = await pidIn(join(logDir, 'restart.pid'));
      killed.push(pid);
      expect(alive(pid)).toBe(true); // it outlived the launcher that started it

      const restarted = new LocalProcessLauncher({ ...options, pollMs: 50 });
      expect(await restarted.status('run-restart')).toMatchObject({ id: 'run-restart', state: 'running' });
      await expect(restarted.launch({ runId: 'run-restart', args: [] })).rejects.toThrow(/already running/);
      const final = await restarted.wait('run-restart');
      expect(final).toMatchObject({ state: 'succeeded', result: { phase: 'result', ok: true, version: 'v9' } });
      expect(final.finishedAt).toBeDefined();
      // Recorded: yet another launcher knows it finished without looking for the process.
      expect(await new LocalProcessLauncher(options).status('run-restart')).toMatchObject({ state: 'succeeded' });
      expect((await jobRecord(logDir, 'run-restart')).state).toBe('succeeded');
    });

    it('fails a job whose process was killed (SIGKILL: no result) while no launcher watched it', async () => {
      const options = { command: sleeper(-1, join(logDir, 'killed.pid')), logDir, env: { PATH: process.env.PATH ?? '' } };
      await launchFromAnotherProcess(options, { runId: 'run-killed', args: [] });
      const pid = await pidIn(join(logDir, 'killed.pid'));
      killed.push(pid);
      const restarted = new LocalProcessLauncher({ ...options, pollMs: 50 });
      expect((await restarted.status('run-killed')).state).toBe('running');
      process.kill(-pid, 'SIGKILL');
      const final = await restarted.wait('run-killed');
      expect(final.state).toBe('failed');
      expect(final.message).toMatch(new RegExp(`\\(process ${pid} ended while no launcher watched it, exit status unknown\\)$`));
      // And a launcher started after it died says so at once.
      expect(await new LocalProcessLauncher(options).status('run-killed')).toMatchObject({ state: 'failed', message: final.message });
    });

    it('is not fooled by a pid reused by another process', async () => {
      const options = { command: sleeper(0, join(logDir, 'unused.pid')), logDir };
      const record = {
        runId: 'run-reused',
        pid: process.pid,
        processStart: 'proc:1',
        command: ['x'],
        log: join(logDir, 'run-reused.log'),
        logOffset: 0,
        startedAt: new Date().toISOString(),
        state: 'running',
      };
      await writeFile(join(logDir, 'run-reused.job.json'), JSON.stringify(record));
      expect(await new LocalProcessLauncher(options).status('run-reused')).toMatchObject({
        state: 'failed',
        message: expect.stringMatching(/no result line/),
      });
    });
  });

  it('stops and fails a job that runs longer than maxRunMs', async () => {
    const launcher = new LocalProcessLauncher({
      command: [process.execPath, fixture],
      logDir,
      env: { PATH: process.env.PATH ?? '', FAKE_TRAINER_MODE: 'stubborn' },
      maxRunMs: 300,
      killGraceMs: 100,
    });
    await launcher.launch({ runId: 'run-forever', args: [] });
    started.push({ launcher, id: 'run-forever' });
    const final = await launcher.wait('run-forever');
    expect(final.state).toBe('failed');
    expect(final.message).toMatch(/^expired: ran longer than the maximum run time \(300 ms\); [\s\S]*\(killed by SIGKILL\)$/);
  }, 5_000);
});
