/** Child processes for the measurements that start servers and bundles: start, wait for, stop. */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { REPO_ROOT } from '@mlops/config';

const children = new Set<ChildProcess>();
process.on('exit', () => children.forEach((child) => child.kill('SIGKILL')));

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** `node <args>` from the repo root; its output goes to our stderr, away from the table. */
export function startNode(args: string[], env: NodeJS.ProcessEnv): ChildProcess {
  const child = spawn(process.execPath, args, { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.pipe(process.stderr, { end: false });
  child.stderr!.pipe(process.stderr, { end: false });
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

export async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

export interface Memory {
  /** Resident set now and its peak so far (VmRSS, VmHWM), in MiB. */
  rssMiB: number;
  peakMiB: number;
}

/** A running process's resident memory, from /proc (Linux only). */
export async function memoryOf(child: ChildProcess): Promise<Memory> {
  const status = await readFile(`/proc/${child.pid}/status`, 'utf8');
  const mib = (field: string) => {
    const kib = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1];
    if (kib === undefined) throw new Error(`/proc/${child.pid}/status has no ${field}`);
    return Number(kib) / 1024;
  };
  return { rssMiB: mib('VmRSS'), peakMiB: mib('VmHWM') };
}

/** Polls `memoryOf` until the child exits and keeps the last reading: its peak as it ended. */
export function watchMemory(child: ChildProcess, everyMs = 200): () => Memory | undefined {
  let last: Memory | undefined;
  const timer = setInterval(() => {
    memoryOf(child).then(
      (memory) => (last = memory),
      () => undefined,
    );
  }, everyMs);
  child.once('exit', () => clearInterval(timer));
  return () => last;
}

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  if (typeof address !== 'object' || address === null) throw new Error('could not find a free port');
  return address.port;
}

/** Polls `check` every 10 ms until it is true; fails when the child exits first or after `timeoutMs`. */
export async function until(child: ChildProcess, what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check().catch(() => false)) return;
    if (child.exitCode !== null || child.signalCode !== null)
      throw new Error(`exited (${child.exitCode ?? child.signalCode}) before ${what}`);
    if (Date.now() > deadline) throw new Error(`no ${what} within ${timeoutMs / 1000} s`);
    await sleep(10);
  }
}

export async function predictOk(port: number, text: string): Promise<boolean> {
  const response = await fetch(`http://127.0.0.1:${port}/v1/predict`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ text }),
  });
  await response.arrayBuffer();
  return response.status === 200;
}
