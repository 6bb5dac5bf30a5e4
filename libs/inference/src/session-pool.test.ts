import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Worker } from 'node:worker_threads';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InferenceError, SessionPool, type PassInputs, type PassOutput } from './session-pool.ts';
import { createTinyModel } from './testing.ts';

/** `batch` rows of `seq` tokens of one id, all attended. */
function pass(batch: number, seq: number, id = 5n): PassInputs {
  return {
    feeds: { input_ids: new BigInt64Array(batch * seq).fill(id), attention_mask: new BigInt64Array(batch * seq).fill(1n) },
    batch,
    seq,
  };
}

describe('SessionPool', () => {
  let dir: string;
  let modelPath: string;
  beforeAll(async () => {
    dir = await createTinyModel();
    modelPath = join(dir, 'onnx', 'model.onnx');
  }, 60_000);
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('lets the process end while its workers are idle, even one that never ran a pass', async () => {
    const fixture = fileURLToPath(new URL('./session-pool.exit.fixture.ts', import.meta.url));
    const child = spawn(process.execPath, ['--import', 'tsx', fixture, modelPath], { stdio: ['ignore', 'pipe', 'inherit'] });
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    const [code, signal] = (await once(child, 'exit')) as [number | null, NodeJS.Signals | null];
    clearTimeout(timer);
    expect(stdout).toContain('ran one pass');
    expect({ code, signal }).toEqual({ code: 0, signal: null });
  });

  it('gives the same logits in worker sessions as on the calling thread, for passes run side by side', async () => {
    const inline = await SessionPool.open(modelPath, { sessions: 0, threads: 1 });
    const workers = await SessionPool.open(modelPath, { sessions: 2, threads: 1 });
    try {
      expect(workers.inputNames).toEqual(inline.inputNames);
      const shapes: [number, number, bigint][] = [
        [1, 3, 5n],
        [4, 7, 6n],
        [2, 16, 7n],
        [3, 2, 8n],
        [1, 9, 9n],
      ];
      const expected: PassOutput[] = [];
      for (const [b, s, id] of shapes) expected.push(await inline.run(pass(b, s, id)));
      const got = await Promise.all(shapes.map(([b, s, id]) => workers.run(pass(b, s, id))));
      got.forEach((out, i) => {
        expect(out.dims).toEqual([shapes[i]![0], 2]);
        expect(Array.from(out.data)).toEqual(Array.from(expected[i]!.data));
      });
    } finally {
      await inline.release();
      await workers.release();
    }
  });

  it('reports a bad pass as an InferenceError and keeps serving', async () => {
    const pool = await SessionPool.open(modelPath, { sessions: 1, threads: 1 });
    try {
      // 40 tokens exceed the tiny model's 16 positions.
      await expect(pool.run(pass(1, 40))).rejects.toThrow(InferenceError);
      expect((await pool.run(pass(1, 4))).dims).toEqual([1, 2]);
    } finally {
      await pool.release();
    }
  });

  it('reports a failure when a worker dies on its own, and none once released', async () => {
    const pool = await SessionPool.open(modelPath, { sessions: 2, threads: 1 });
    expect(pool.failure).toBeUndefined();
    const [slot] = (pool as unknown as { slots: { worker: Worker }[] }).slots;
    await slot!.worker.terminate();
    expect(pool.failure?.message).toMatch(/an inference worker stopped/);
    await expect(pool.run(pass(1, 4))).rejects.toThrow(/an inference worker stopped/);
    await pool.release();
    const released = await SessionPool.open(modelPath, { sessions: 1, threads: 1 });
    await released.release();
    expect(released.failure).toBeUndefined();
  });

  it('fails calls clearly once released, and loading a corrupt model names the file', async () => {
    const pool = await SessionPool.open(modelPath, { sessions: 1, threads: 1 });
    const running = expect(pool.run(pass(8, 16))).rejects.toThrow(/released/);
    await pool.release();
    await running;
    await expect(pool.run(pass(1, 4))).rejects.toThrow(/released/);
    await expect(SessionPool.open(join(dir, 'config.json'), { sessions: 2, threads: 1 })).rejects.toThrow(
      /cannot load ONNX model .*config\.json/,
    );
  });
});
