import { mkdir, mkdtemp, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deployErrorMessage, deployOptionsSchema, deployWithOptions, modelMibOfDir } from './options.ts';

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'mlops-deploy-options-'));
});
afterAll(async () => rm(root, { recursive: true, force: true }));

/** A model folder whose ONNX file is sparse: its size is what counts, no real model needed. */
async function fakeModelDir(name: string, onnxPath: string, bytes: number): Promise<string> {
  const dir = join(root, name);
  await mkdir(join(dir, 'onnx'), { recursive: true });
  await writeFile(join(dir, onnxPath), '');
  await truncate(join(dir, onnxPath), bytes);
  return dir;
}

describe('the model size options', () => {
  it('modelDir reads onnx/model.onnx, else model.onnx, rounded up to whole MiB', async () => {
    expect(await modelMibOfDir(await fakeModelDir('transformers-js', 'onnx/model.onnx', 266 * 2 ** 20))).toBe(266);
    expect(await modelMibOfDir(await fakeModelDir('optimum', 'model.onnx', 5 * 2 ** 20 + 1))).toBe(6);
  });

  it('modelDir without an ONNX model is a clear error', async () => {
    const dir = join(root, 'empty');
    await mkdir(dir, { recursive: true });
    await expect(modelMibOfDir(dir)).rejects.toThrow(
      `model folder ${dir} has no onnx/model.onnx or model.onnx to size the deploy from (--model / modelDir)`,
    );
  });

  it('takes one of modelMb and modelDir, not both, and only a positive size', async () => {
    const both = deployWithOptions({ function: 'predict', provider: 'lambda', dryRun: true, modelMb: 266, modelDir: root });
    await expect(both).rejects.toSatisfy((error: unknown) =>
      deployErrorMessage(error).includes('give the model size once: modelMb (--model-mb) or modelDir (--model), not both'),
    );
    expect(deployOptionsSchema.safeParse({ function: 'predict', provider: 'lambda', modelMb: 0 }).success).toBe(false);
    expect(deployOptionsSchema.safeParse({ function: 'predict', provider: 'lambda', modelMb: Number('abc') }).success).toBe(false);
    expect(deployOptionsSchema.parse({ function: 'predict', provider: 'lambda', modelMb: 266 }).modelMb).toBe(266);
  });
});
