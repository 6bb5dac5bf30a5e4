import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { LINUX_X64, pruneNativeBinaries, sizeOf } from './prune.ts';

let root: string | undefined;

afterEach(async () => {
  if (root) await rm(root, { recursive: true, force: true });
});

/** Writes `files` (relative path → size in bytes) under a fresh node_modules folder. */
async function fakeNodeModules(files: Record<string, number>): Promise<string> {
  root = await mkdtemp(join(tmpdir(), 'prune-'));
  const nodeModules = join(root, 'node_modules');
  for (const [path, bytes] of Object.entries(files)) {
    await mkdir(dirname(join(nodeModules, path)), { recursive: true });
    await writeFile(join(nodeModules, path), Buffer.alloc(bytes));
  }
  return nodeModules;
}

const ort = 'onnxruntime-node/bin/napi-v6';

it('keeps only linux-x64 onnxruntime and tokenizers binaries and reports the bytes saved', async () => {
  const nodeModules = await fakeNodeModules({
    'onnxruntime-node/package.json': 100,
    'onnxruntime-node/dist/index.js': 1000,
    [`${ort}/linux/x64/libonnxruntime.so.1`]: 44_000,
    [`${ort}/linux/x64/onnxruntime_binding.node`]: 400,
    [`${ort}/linux/x64/libonnxruntime_providers_cuda.so`]: 200_000,
    [`${ort}/linux/x64/libonnxruntime_providers_shared.so`]: 50,
    [`${ort}/linux/arm64/libonnxruntime.so.1`]: 25_000,
    [`${ort}/darwin/arm64/libonnxruntime.1.dylib`]: 86_000,
    [`${ort}/win32/x64/onnxruntime.dll`]: 64_000,
    'tokenizers/index.js': 300,
    'tokenizers/tokenizers.linux-x64-gnu.node': 5000,
    'tokenizers/tokenizers.linux-x64-musl.node': 5000,
    'tokenizers/tokenizers.darwin-arm64.node': 5000,
    'tokenizers/tokenizers.win32-x64-msvc.node': 5000,
    // An older tokenizers layout: one optional package per platform.
    'tokenizers-linux-x64-gnu/tokenizers.linux-x64-gnu.node': 700,
    'tokenizers-darwin-arm64/tokenizers.darwin-arm64.node': 700,
    // A nested copy is pruned as well.
    [`some-lib/node_modules/${ort}/win32/arm64/onnxruntime.dll`]: 70_000,
    [`some-lib/node_modules/${ort}/linux/x64/libonnxruntime.so.1`]: 44_000,
    'zod/index.js': 900,
  });
  const before = await sizeOf(nodeModules);

  const report = await pruneNativeBinaries(nodeModules, LINUX_X64);

  expect(report.bytesBefore).toBe(before);
  expect(report.bytesAfter).toBe(await sizeOf(nodeModules));
  expect(report.bytesAfter).toBe(100 + 1000 + 44_000 + 400 + 300 + 5000 + 700 + 44_000 + 900);
  expect(report.removed).toEqual(
    [
      `${ort}/darwin`,
      `${ort}/linux/arm64`,
      `${ort}/linux/x64/libonnxruntime_providers_cuda.so`,
      `${ort}/linux/x64/libonnxruntime_providers_shared.so`,
      `${ort}/win32`,
      `some-lib/node_modules/${ort}/win32`,
      'tokenizers-darwin-arm64',
      'tokenizers/tokenizers.darwin-arm64.node',
      'tokenizers/tokenizers.linux-x64-musl.node',
      'tokenizers/tokenizers.win32-x64-msvc.node',
    ].sort(),
  );
  expect(await readdir(join(nodeModules, ort, 'linux', 'x64'))).toEqual(['libonnxruntime.so.1', 'onnxruntime_binding.node']);
  expect((await readdir(join(nodeModules, 'tokenizers'))).sort()).toEqual(['index.js', 'tokenizers.linux-x64-gnu.node']);
});

it('keeps the CUDA providers for a GPU image and is a no-op on a pruned tree', async () => {
  const nodeModules = await fakeNodeModules({
    [`${ort}/linux/x64/libonnxruntime.so.1`]: 10,
    [`${ort}/linux/x64/libonnxruntime_providers_cuda.so`]: 20,
  });
  const gpu = { ...LINUX_X64, keepGpuProviders: true };
  expect((await pruneNativeBinaries(nodeModules, gpu)).removed).toEqual([]);
  const again = await pruneNativeBinaries(nodeModules, gpu);
  expect(again).toEqual({ bytesBefore: 30, bytesAfter: 30, removed: [] });
});

it('reports zero for a folder without native packages', async () => {
  const nodeModules = await fakeNodeModules({ 'hono/index.js': 10 });
  expect(await pruneNativeBinaries(nodeModules)).toEqual({ bytesBefore: 10, bytesAfter: 10, removed: [] });
  expect(await pruneNativeBinaries(join(nodeModules, 'missing'))).toEqual({ bytesBefore: 0, bytesAfter: 0, removed: [] });
});
