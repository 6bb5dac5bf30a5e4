import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { mkdir, open } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import {
  errorMessage,
  JobLauncherError,
  parseTrainingJobRequest,
  type JobLauncher,
  type JobState,
  type JobStatus,
  type TrainingJobRequest,
} from '../types.ts';
import type { LocalLauncherOptions } from './types.ts';

/** How much of the job's stderr a failure message quotes (enough for an error and its first stack frames). */
const STDERR_TAIL_CHARS = 1000;
const DEFAULT_KILL_GRACE_MS = 10_000;

interface LocalJob {
  runId: string;
  state: JobState;
  startedAt?: string;
  finishedAt?: string;
  message?: string;
  result?: Record<string, unknown>;
  stderrTail: string;
  cancelRequested: boolean;
  child?: ChildProcessByStdio<null, Readable, Readable>;
  done?: Promise<JobStatus>;
}

/** Runs the trainer entry as a child process on this machine (request.gpu changes nothing here). */
export class LocalProcessLauncher implements JobLauncher {
  readonly name = 'local' as const;
  private readonly jobs = new Map<string, LocalJob>();

  constructor(private readonly opts: LocalLauncherOptions) {
    if (opts.command.length === 0 || !opts.command[0]) throw new JobLauncherError('LocalProcessLauncher needs a command to run');
  }

  /** Resolves once the process has started; its stdout JSON lines go to onEvent as they come. */
  async launch(request: TrainingJobRequest): Promise<JobStatus> {
    const { runId, args, env } = parseTrainingJobRequest(request);
    const previous = this.jobs.get(runId);
    if (previous && !isFinal(previous.state)) throw new JobLauncherError(`Training job ${runId} is already running`);
    // Claimed before the first await, so a concurrent launch with the same runId is refused too.
    const job: LocalJob = { runId, state: 'pending', stderrTail: '', cancelRequested: false };
    this.jobs.set(runId, job);
    try {
      await this.start(job, args, env ?? {});
    } catch (error) {
      if (previous) this.jobs.set(runId, previous);
      else this.jobs.delete(runId);
      throw error;
    }
    return snapshot(job);
  }

  async status(id: string): Promise<JobStatus> {
    return snapshot(this.job(id));
  }

  /** Resolves with the final status once the process has exited and its log is written. */
  async wait(id: string): Promise<JobStatus> {
    const job = this.job(id);
    return job.done ?? snapshot(job);
  }

  /** SIGTERM, then SIGKILL after the grace period; resolves once the process has exited. */
  async cancel(id: string): Promise<void> {
    const job = this.job(id);
    if (isFinal(job.state) || !job.child || !job.done) return;
    job.cancelRequested = true;
    const { pid } = job.child;
    signalGroup(pid, 'SIGTERM');
    const escalation = setTimeout(() => signalGroup(pid, 'SIGKILL'), this.opts.killGraceMs ?? DEFAULT_KILL_GRACE_MS);
    try {
      await job.done;
    } finally {
      clearTimeout(escalation);
    }
  }

  private job(id: string): LocalJob {
    const job = this.jobs.get(id);
    if (!job) throw new JobLauncherError(`Unknown local training job "${id}"`);
    return job;
  }

  private async start(job: LocalJob, args: string[], env: Record<string, string>): Promise<void> {
    const { command, cwd, logDir } = this.opts;
    const [file = '', ...commandArgs] = command;
    await mkdir(logDir, { recursive: true });
    const log = (await open(join(logDir, `${job.runId}.log`), 'a')).createWriteStream();
    log.on('error', () => {}); // a log that cannot be written must not take the launcher down; the job runs on

    // Its own process group, so that cancel() also reaches what the trainer started (python).
    const child = spawn(file, [...commandArgs, ...args], {
      ...(cwd ? { cwd } : {}),
      env: { ...(this.opts.env ?? process.env), ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    try {
      await new Promise<void>((resolve, reject) => {
        child.once('spawn', () => {
          child.off('error', reject);
          resolve();
        });
        child.once('error', reject); // e.g. ENOENT, EACCES
      });
    } catch (error) {
      await endLog(log, `[launcher] cannot start ${file}: ${errorMessage(error)}\n`);
      throw new JobLauncherError(`Cannot start training job ${job.runId} (${file}): ${errorMessage(error)}`, { cause: error });
    }
    // Later errors (a failed kill, a full disk) must not crash the caller; the exit still settles the job.
    const writeLog = (text: string): void => {
      if (!log.writableEnded) log.write(text);
    };
    child.on('error', (error) => writeLog(`[launcher] ${errorMessage(error)}\n`));

    job.child = child;
    job.state = 'running';
    job.startedAt = new Date().toISOString();

    let partialLine = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      writeLog(chunk);
      const lines = (partialLine + chunk).split('\n');
      partialLine = lines.pop() ?? '';
      for (const line of lines) this.onStdoutLine(job, line, writeLog);
    });
    child.stdout.on('end', () => {
      if (partialLine) this.onStdoutLine(job, partialLine, writeLog);
      partialLine = '';
    });
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => {
      writeLog(chunk);
      job.stderrTail = (job.stderrTail + chunk).slice(-STDERR_TAIL_CHARS);
    });

    // 'close' comes after 'exit' once stdout and stderr are drained, so the result line has been seen.
    job.done = new Promise<JobStatus>((resolve) => {
      child.once('close', (code, signal) => {
        Object.assign(job, outcome(job, code, signal), { finishedAt: new Date().toISOString() });
        void endLog(log, '').then(() => resolve(snapshot(job)));
      });
    });
  }

  private onStdoutLine(job: LocalJob, line: string, writeLog: (text: string) => void): void {
    const event = parseJsonObject(line);
    if (!event) return; // not a progress line (a library printing to stdout): it stays in the log only
    if (event.phase === 'result') job.result = event;
    try {
      this.opts.onEvent?.(job.runId, event);
    } catch (error) {
      writeLog(`[launcher] onEvent failed: ${errorMessage(error)}\n`);
    }
  }
}

function outcome(job: LocalJob, code: number | null, signal: NodeJS.Signals | null): Pick<LocalJob, 'state' | 'message'> {
  if (code === 0 && job.result?.ok === true) return { state: 'succeeded' };
  const exit = code === null ? `killed by ${signal}` : `exit code ${code}`;
  const resultError = typeof job.result?.error === 'string' ? job.result.error : '';
  const reason = resultError || stderrTail(job.stderrTail) || (job.result ? `result ok: ${String(job.result.ok)}` : 'no result line');
  const message = `${job.cancelRequested ? 'cancelled: ' : ''}${reason} (${exit})`;
  return { state: 'failed', message };
}

/** The tail of stderr from a line start, so a message does not begin mid-word. */
function stderrTail(tail: string): string {
  const text = tail.length < STDERR_TAIL_CHARS ? tail : tail.slice(tail.indexOf('\n') + 1);
  return text.trim();
}

function parseJsonObject(line: string): Record<string, unknown> | undefined {
  const text = line.trim();
  if (!text.startsWith('{')) return undefined;
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function signalGroup(pid: number | undefined, signal: NodeJS.Signals): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, signal);
  } catch {
    // ESRCH: the group has already exited.
  }
}

/** Resolves once the log is flushed and closed (or failed: the job's status matters more). */
async function endLog(log: Writable, last: string): Promise<void> {
  if (log.writableEnded) return;
  await new Promise<void>((resolve) => {
    log.once('error', () => resolve());
    log.end(last, () => resolve());
  });
}

function isFinal(state: JobState): boolean {
  return state === 'succeeded' || state === 'failed';
}

function snapshot(job: LocalJob): JobStatus {
  return {
    id: job.runId,
    launcher: 'local',
    state: job.state,
    ...(job.message !== undefined ? { message: job.message } : {}),
    ...(job.result ? { result: job.result } : {}),
    ...(job.startedAt ? { startedAt: job.startedAt } : {}),
    ...(job.finishedAt ? { finishedAt: job.finishedAt } : {}),
  };
}
