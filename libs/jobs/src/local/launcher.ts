import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { appendFile, mkdir, open, readFile, rename, writeFile, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import { promisify } from 'node:util';
import { z } from 'zod';
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

/** How much of the job's log text (its lines that are not JSON: stderr, tracebacks) a failure message quotes. */
const TEXT_TAIL_CHARS = 1000;
const DEFAULT_KILL_GRACE_MS = 10_000;
const DEFAULT_MAX_RUN_MS = 24 * 3600_000;
const DEFAULT_POLL_MS = 1000;
/** How often a watched job's log is read for new lines. */
const TAIL_MS = 100;

/**
 * What the launcher keeps beside the job's log (<logDir>/<runId>.job.json): enough for another
 * launcher instance (after a restart) to find the process, tell it from another that got its pid,
 * and read its result from the log.
 */
const JobRecordSchema = z.object({
  runId: z.string(),
  pid: z.number().int().positive(),
  /** The process's start time as the OS tells it (/proc/<pid>/stat starttime, or ps lstart): not fooled by pid reuse. */
  processStart: z.string().optional(),
  command: z.array(z.string()),
  log: z.string(),
  /** Where this run's output begins in the log (it is appended to, so a rerun keeps the earlier run). */
  logOffset: z.number().int().nonnegative(),
  startedAt: z.string(),
  state: z.enum(['pending', 'running', 'succeeded', 'failed']),
  message: z.string().optional(),
  result: z.record(z.string(), z.unknown()).optional(),
  finishedAt: z.string().optional(),
});
type JobRecord = z.infer<typeof JobRecordSchema>;

interface LocalJob {
  runId: string;
  state: JobState;
  startedAt?: string;
  finishedAt?: string;
  message?: string;
  result?: Record<string, unknown>;
  /** The tail of the log's lines that are not JSON (what the job wrote to stderr, mostly). */
  textTail: string;
  cancelRequested: boolean;
  expired: boolean;
  pid?: number;
  record?: JobRecord;
  /** Set when this launcher started it: its exit code is known. Unset for a job adopted after a restart. */
  child?: ChildProcess;
  done?: Promise<JobStatus>;
  persisting: Promise<void>;
}

/**
 * Runs the trainer entry as a child process on this machine (request.gpu changes nothing here).
 * The job writes its output straight to its log file (no pipe to this process), so it runs on
 * when the launcher's process ends; <logDir>/<runId>.job.json says where it is, so a new launcher
 * instance reports it running while its process lives and settles it from its log once it is gone.
 */
export class LocalProcessLauncher implements JobLauncher {
  readonly name = 'local' as const;
  private readonly jobs = new Map<string, LocalJob>();
  private readonly adopting = new Map<string, Promise<LocalJob | undefined>>();

  constructor(private readonly opts: LocalLauncherOptions) {
    if (opts.command.length === 0 || !opts.command[0]) throw new JobLauncherError('LocalProcessLauncher needs a command to run');
  }

  private get maxRunMs(): number {
    return this.opts.maxRunMs ?? DEFAULT_MAX_RUN_MS;
  }

  /** Resolves once the process has started; its stdout JSON lines go to onEvent as they come. */
  async launch(request: TrainingJobRequest): Promise<JobStatus> {
    const { runId, args, env } = parseTrainingJobRequest(request);
    const previous = this.jobs.get(runId);
    if (previous && !isFinal(previous.state)) throw new JobLauncherError(`Training job ${runId} is already running`);
    // Claimed before the first await, so a concurrent launch with the same runId is refused too.
    const job: LocalJob = newJob(runId);
    this.jobs.set(runId, job);
    try {
      if (!previous) {
        // Started by an earlier launcher (before a restart) and still running?
        const earlier = await this.load(runId).catch(() => undefined);
        if (earlier && !isFinal(earlier.state)) {
          this.jobs.set(runId, earlier);
          throw new JobLauncherError(`Training job ${runId} is already running`);
        }
      }
      await this.start(job, args, env ?? {});
    } catch (error) {
      if (this.jobs.get(runId) === job) {
        if (previous) this.jobs.set(runId, previous);
        else this.jobs.delete(runId);
      }
      throw error;
    }
    return snapshot(job);
  }

  async status(id: string): Promise<JobStatus> {
    return snapshot(await this.find(id));
  }

  /** Resolves with the final status once the process has exited and its log is read. */
  async wait(id: string): Promise<JobStatus> {
    const job = await this.find(id);
    return job.done ?? snapshot(job);
  }

  /** SIGTERM, then SIGKILL after the grace period; resolves once the process has exited. */
  async cancel(id: string): Promise<void> {
    const job = await this.find(id);
    if (isFinal(job.state) || !job.done) return;
    job.cancelRequested = true;
    await this.terminate(job);
  }

  private async terminate(job: LocalJob): Promise<void> {
    const { pid } = job;
    signalGroup(pid, 'SIGTERM');
    const escalation = setTimeout(() => signalGroup(pid, 'SIGKILL'), this.opts.killGraceMs ?? DEFAULT_KILL_GRACE_MS);
    try {
      await job.done;
    } finally {
      clearTimeout(escalation);
    }
  }

  private async find(id: string): Promise<LocalJob> {
    const job = this.jobs.get(id) ?? (await this.adopt(id));
    if (!job) throw new JobLauncherError(`Unknown local training job "${id}"`);
    return job;
  }

  private recordPath(runId: string): string {
    return join(this.opts.logDir, `${runId}.job.json`);
  }

  /** A job another launcher instance started, from its record; undefined when there is none. */
  private adopt(id: string): Promise<LocalJob | undefined> {
    if (!/^[a-z0-9][a-z0-9-]{0,40}$/.test(id)) return Promise.resolve(undefined); // not a run id: no file to look for
    let adoption = this.adopting.get(id);
    if (!adoption) {
      adoption = this.load(id)
        .then((job) => {
          const known = this.jobs.get(id);
          if (known) return known;
          if (job) this.jobs.set(id, job);
          return job;
        })
        .finally(() => this.adopting.delete(id));
      this.adopting.set(id, adoption);
    }
    return adoption;
  }

  /** The job a record describes, watched from here on if its process still runs. */
  private async load(id: string): Promise<LocalJob | undefined> {
    const text = await readFile(this.recordPath(id), 'utf8').catch(() => undefined);
    if (text === undefined) return undefined;
    let record: JobRecord;
    try {
      record = JobRecordSchema.parse(JSON.parse(text));
    } catch (error) {
      throw new JobLauncherError(`Unreadable record of local training job "${id}" (${this.recordPath(id)}): ${errorMessage(error)}`);
    }
    const job: LocalJob = {
      ...newJob(id),
      state: record.state,
      startedAt: record.startedAt,
      pid: record.pid,
      record,
      ...(record.finishedAt !== undefined && { finishedAt: record.finishedAt }),
      ...(record.message !== undefined && { message: record.message }),
      ...(record.result !== undefined && { result: record.result }),
    };
    if (isFinal(record.state)) return job;

    // Still running? Read the log from this run's start: its result line and text tail.
    const liveFrom = (await fileSize(record.log)) ?? record.logOffset;
    const tail = new LogTail(record.log, record.logOffset, (line, end) => this.onLogLine(job, line, end > liveFrom));
    if (!(await sameProcess(record))) {
      await tail.stop();
      await this.finish(job, undefined, undefined);
      return job;
    }
    job.state = 'running';
    tail.start();
    const expiry = this.expireAt(job, Date.parse(record.startedAt));
    job.done = new Promise<JobStatus>((resolve) => {
      const check = async () => {
        if (await sameProcess(record)) return void setTimeout(() => void check(), this.opts.pollMs ?? DEFAULT_POLL_MS);
        await tail.stop();
        clearTimeout(expiry);
        await this.finish(job, undefined, undefined);
        resolve(snapshot(job));
      };
      void check();
    });
    return job;
  }

  /** Ends a job that runs longer than maxRunMs (at once when already past it). */
  private expireAt(job: LocalJob, startedMs: number): NodeJS.Timeout {
    const timer = setTimeout(
      () => {
        if (isFinal(job.state)) return;
        job.expired = true;
        void this.terminate(job);
      },
      Math.max(0, startedMs + this.maxRunMs - Date.now()),
    );
    timer.unref();
    return timer;
  }

  private async start(job: LocalJob, args: string[], env: Record<string, string>): Promise<void> {
    const { command, cwd, logDir } = this.opts;
    const [file = '', ...commandArgs] = command;
    await mkdir(logDir, { recursive: true });
    const logPath = join(logDir, `${job.runId}.log`);
    const log = await open(logPath, 'a');
    let logOffset: number;
    let child: ChildProcess;
    try {
      logOffset = (await log.stat()).size;
      // Its own process group, so that cancel() also reaches what the trainer started (python); its
      // output straight to the log, so that it runs on (and its writes do not fail) when this process ends.
      child = spawn(file, [...commandArgs, ...args], {
        ...(cwd ? { cwd } : {}),
        env: { ...(this.opts.env ?? process.env), ...env },
        stdio: ['ignore', log.fd, log.fd],
        detached: true,
      });
      await new Promise<void>((resolve, reject) => {
        child.once('spawn', () => {
          child.off('error', reject);
          resolve();
        });
        child.once('error', reject); // e.g. ENOENT, EACCES
      });
    } catch (error) {
      await log.close();
      await appendLog(logPath, `[launcher] cannot start ${file}: ${errorMessage(error)}\n`);
      throw new JobLauncherError(`Cannot start training job ${job.runId} (${file}): ${errorMessage(error)}`, { cause: error });
    } finally {
      await log.close().catch(() => undefined);
    }
    // Later errors (a failed kill) must not crash the caller; the exit still settles the job.
    child.on('error', (error) => void appendLog(logPath, `[launcher] ${errorMessage(error)}\n`));

    const pid = child.pid!;
    const startedMs = Date.now();
    job.child = child;
    job.pid = pid;
    job.state = 'running';
    job.startedAt = new Date(startedMs).toISOString();
    const tail = new LogTail(logPath, logOffset, (line) => this.onLogLine(job, line, true));
    tail.start();
    const exited = new Promise<[number | null, NodeJS.Signals | null]>((resolve) =>
      child.once('exit', (code, signal) => resolve([code, signal])),
    );
    const expiry = this.expireAt(job, startedMs);
    job.record = {
      runId: job.runId,
      pid,
      command: [file, ...commandArgs, ...args],
      log: logPath,
      logOffset,
      startedAt: job.startedAt,
      state: 'running',
    };
    job.done = exited.then(async ([code, signal]) => {
      clearTimeout(expiry);
      await tail.stop(); // every line the job wrote has been seen
      await this.finish(job, code, signal);
      return snapshot(job);
    });
    const start = await processStart(pid);
    if (start) job.record.processStart = start;
    this.persist(job);
    await job.persisting;
  }

  /** Records the outcome (code and signal undefined: the job was not this launcher's child, its exit is not known). */
  private async finish(job: LocalJob, code: number | null | undefined, signal: NodeJS.Signals | null | undefined): Promise<void> {
    Object.assign(job, outcome(job, code, signal, this.maxRunMs), { finishedAt: new Date().toISOString() });
    this.persist(job);
    await job.persisting;
  }

  /** Writes the job's record (atomically, one write at a time, in order); a failure is logged in the job's log only. */
  private persist(job: LocalJob): void {
    const record = job.record;
    if (!record) return;
    const next: JobRecord = {
      ...record,
      state: job.state,
      ...(job.message !== undefined && { message: job.message }),
      ...(job.result && { result: job.result }),
      ...(job.finishedAt && { finishedAt: job.finishedAt }),
    };
    job.record = next;
    const path = this.recordPath(job.runId);
    job.persisting = job.persisting.then(async () => {
      try {
        const tmp = `${path}.${process.pid}.tmp`;
        await writeFile(tmp, `${JSON.stringify(next, null, 2)}\n`);
        await rename(tmp, path);
      } catch (error) {
        await appendLog(record.log, `[launcher] cannot write ${path}: ${errorMessage(error)}\n`);
      }
    });
  }

  private onLogLine(job: LocalJob, line: string, live: boolean): void {
    const event = parseJsonObject(line);
    if (!event) {
      // Not a progress line (stderr, a library printing to stdout): it stays in the log, and in a failure's message.
      if (line.trim()) job.textTail = `${job.textTail}${line}\n`.slice(-TEXT_TAIL_CHARS);
      return;
    }
    if (event.phase === 'result') job.result = event;
    if (!live) return;
    try {
      this.opts.onEvent?.(job.runId, event);
    } catch (error) {
      void appendLog(job.record?.log ?? join(this.opts.logDir, `${job.runId}.log`), `[launcher] onEvent failed: ${errorMessage(error)}\n`);
    }
  }
}

function newJob(runId: string): LocalJob {
  return { runId, state: 'pending', textTail: '', cancelRequested: false, expired: false, persisting: Promise.resolve() };
}

function outcome(
  job: LocalJob,
  code: number | null | undefined,
  signal: NodeJS.Signals | null | undefined,
  maxRunMs: number,
): Pick<LocalJob, 'state' | 'message'> {
  const watched = code !== undefined;
  // A job adopted after a restart: its exit code is lost, its result line is what it said.
  if ((watched ? code === 0 : !job.expired && !job.cancelRequested) && job.result?.ok === true) return { state: 'succeeded' };
  const exit = !watched
    ? `process ${job.pid} ended while no launcher watched it, exit status unknown`
    : code === null
      ? `killed by ${signal}`
      : `exit code ${code}`;
  const resultError = typeof job.result?.error === 'string' ? job.result.error : '';
  const reason = resultError || textTail(job.textTail) || (job.result ? `result ok: ${String(job.result.ok)}` : 'no result line');
  const prefix = job.expired
    ? `expired: ran longer than the maximum run time (${formatMs(maxRunMs)}); `
    : job.cancelRequested
      ? 'cancelled: '
      : '';
  return { state: 'failed', message: `${prefix}${reason} (${exit})` };
}

function formatMs(ms: number): string {
  return ms >= 3600_000 ? `${+(ms / 3600_000).toFixed(2)} h` : ms >= 60_000 ? `${+(ms / 60_000).toFixed(2)} min` : `${ms} ms`;
}

/** The tail of the text from a line start, so a message does not begin mid-word. */
function textTail(tail: string): string {
  const text = tail.length < TEXT_TAIL_CHARS ? tail : tail.slice(tail.indexOf('\n') + 1);
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

async function appendLog(path: string, text: string): Promise<void> {
  await appendFile(path, text).catch(() => undefined); // a log that cannot be written must not take the launcher down
}

async function fileSize(path: string): Promise<number | undefined> {
  const handle = await open(path, 'r').catch(() => undefined);
  if (!handle) return undefined;
  try {
    return (await handle.stat()).size;
  } finally {
    await handle.close();
  }
}

const execFileAsync = promisify(execFile);

/** The process's start time as the OS tells it; undefined when it has no such process (or cannot say). */
async function processStart(pid: number): Promise<string | undefined> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined);
  if (stat !== undefined) {
    // Fields after "(comm)": state is the 3rd field of the line, starttime the 22nd.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (fields[0] === 'Z' || fields[0] === 'X') return undefined; // exited, not yet reaped
    return fields[19] && `proc:${fields[19]}`;
  }
  if (process.platform === 'linux') return undefined; // /proc is there: no such process
  try {
    const { stdout } = await execFileAsync('ps', ['-o', 'lstart=', '-p', String(pid)]);
    return stdout.trim() ? `ps:${stdout.trim()}` : undefined;
  } catch {
    return undefined; // ps exits 1 when there is no such process
  }
}

/** Whether the recorded job's process is still running: its pid is alive and started when the job's did. */
async function sameProcess(record: JobRecord): Promise<boolean> {
  try {
    process.kill(record.pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return false; // ESRCH: no such process
  }
  const start = await processStart(record.pid);
  if (start === undefined) return process.platform !== 'linux' && record.processStart === undefined;
  return record.processStart === undefined || record.processStart === start;
}

/** Reads a log file as it grows, line by line, from an offset. */
class LogTail {
  private readonly decoder = new StringDecoder('utf8');
  private partial = '';
  /** The end of the last line delivered. */
  private consumed: number;
  private reading: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;
  private handle: Promise<FileHandle | undefined> | undefined;

  constructor(
    private readonly path: string,
    private offset: number,
    /** `end`: where the line ends in the file. */
    private readonly onLine: (line: string, end: number) => void,
  ) {
    this.consumed = offset;
  }

  start(): void {
    this.timer = setInterval(() => void this.read(), TAIL_MS);
    this.timer.unref();
    void this.read();
  }

  /** Reads what is left, then the last line even without its newline, and closes the file. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.read();
    const last = this.partial + this.decoder.end();
    this.partial = '';
    if (last) this.onLine(last, (this.consumed += Buffer.byteLength(last)));
    await (await this.handle)?.close().catch(() => undefined);
    this.handle = Promise.resolve(undefined);
  }

  private read(): Promise<void> {
    this.reading = this.reading.then(() => this.readOnce()).catch(() => undefined);
    return this.reading;
  }

  private async readOnce(): Promise<void> {
    this.handle ??= open(this.path, 'r').catch(() => undefined);
    const handle = await this.handle;
    if (!handle) return;
    const buffer = Buffer.alloc(64 * 1024);
    for (;;) {
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, this.offset);
      if (bytesRead === 0) return;
      const lines = (this.partial + this.decoder.write(buffer.subarray(0, bytesRead))).split('\n');
      this.offset += bytesRead;
      this.partial = lines.pop() ?? '';
      for (const line of lines) {
        this.consumed += Buffer.byteLength(line) + 1;
        this.onLine(line, this.consumed);
      }
    }
  }
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
