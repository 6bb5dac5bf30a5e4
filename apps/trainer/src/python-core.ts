import { spawn } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { coreEventSchema, type CoreEvent, type DoneEvent } from './events.ts';

const PYTHON_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', 'python');

export class TrainingCoreError extends Error {
  readonly code = 'TRAINING_CORE_ERROR';
}

/** Fails fast, before any data work, when the interpreter or PyTorch is missing. */
export async function checkPythonCore(python: string): Promise<{ torch: string; numpy: string }> {
  const { code, stdout, stderr } = await runCapture(python, ['-c', 'import torch, numpy; print(torch.__version__, numpy.__version__)']);
  if (code === 'ENOENT') throw new TrainingCoreError(`python interpreter "${python}" not found: run "npm run setup" or set MLOPS_PYTHON`);
  if (code !== 0) {
    const missing = /No module named '([^']+)'/.exec(stderr)?.[1] ?? 'torch/numpy';
    throw new TrainingCoreError(
      `${python} cannot import ${missing}: run "npm run setup" (installs Debian's python3-torch) or set MLOPS_PYTHON`,
    );
  }
  const [torch = '?', numpy = '?'] = stdout.trim().split(/\s+/);
  return { torch, numpy };
}

/**
 * Runs `python -m mlops_trainer --job <jobPath>`, forwarding each progress event. Resolves with the
 * `done` event; rejects with the core's own error message, or with how the process died.
 */
export function runPythonCore(
  python: string,
  jobPath: string,
  onEvent: (event: CoreEvent) => void,
  signal?: AbortSignal,
): Promise<DoneEvent> {
  return new Promise((resolve, reject) => {
    const child = spawn(python, ['-m', 'mlops_trainer', '--job', jobPath], {
      env: {
        ...process.env,
        PYTHONPATH: [PYTHON_ROOT, process.env.PYTHONPATH].filter(Boolean).join(delimiter),
        PYTHONUNBUFFERED: '1',
        OMP_NUM_THREADS: process.env.OMP_NUM_THREADS ?? String(availableParallelism()),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
      signal,
    });
    let done: DoneEvent | undefined;
    let coreError: string | undefined;
    let protocolError: string | undefined;
    let stderrTail = '';
    child.stderr.on('data', (chunk: Buffer) => {
      stderrTail = (stderrTail + chunk.toString()).slice(-4000);
    });
    createInterface({ input: child.stdout }).on('line', (line) => {
      let json: unknown;
      try {
        json = JSON.parse(line);
      } catch {
        return; // stray prints from libraries are not events
      }
      const parsed = coreEventSchema.safeParse(json);
      if (!parsed.success) {
        // An event we cannot read means the two sides disagree on the protocol: say so, don't guess.
        if (typeof json === 'object' && json !== null && 'event' in json) {
          protocolError ??= `unreadable "${String(json.event)}" event from the training core: ${parsed.error.issues[0]?.message}`;
        }
        return;
      }
      const event = parsed.data;
      if (event.event === 'done') done = event;
      if (event.event === 'error') coreError = event.message;
      onEvent(event);
    });
    child.on('error', (error) => {
      if (signal?.aborted) return reject(new TrainingCoreError('training cancelled'));
      const code = (error as NodeJS.ErrnoException).code;
      reject(
        new TrainingCoreError(
          code === 'ENOENT' ? `python interpreter "${python}" not found` : `training core failed to run: ${error.message}`,
        ),
      );
    });
    child.on('close', (code, killedBy) => {
      if (code === 0 && done) return resolve(done);
      if (signal?.aborted) return reject(new TrainingCoreError('training cancelled'));
      if (coreError) return reject(new TrainingCoreError(`training failed: ${coreError}`));
      if (protocolError) return reject(new TrainingCoreError(protocolError));
      const how = killedBy ? `was killed by ${killedBy}` : `exited with code ${code}`;
      const tail = stderrTail.trim().split('\n').slice(-5).join('\n');
      reject(new TrainingCoreError(`training core ${how} before finishing${tail ? `:\n${tail}` : ''}`));
    });
  });
}

function runCapture(cmd: string, args: string[]): Promise<{ code: number | string; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('error', (error) => resolve({ code: (error as NodeJS.ErrnoException).code ?? 'ERROR', stdout, stderr }));
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}
