/**
 * Deletes other platforms' native binaries from an installed node_modules folder, so an image or a
 * Lambda zip carries only its target's: onnxruntime-node installs every platform where linux-x64
 * needs only bin/napi-v*\/linux/x64 (sizes in docs/benchmarks.md), and tokenizers ships a .node per platform.
 */
import { lstat, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';

export interface PruneTarget {
  platform: NodeJS.Platform;
  arch: string;
  /** glibc (Debian-based node:20-slim, Lambda) or musl (Alpine). */
  libc: 'gnu' | 'musl';
  /** Keep onnxruntime's CUDA/TensorRT provider libraries (only a GPU image uses them). */
  keepGpuProviders: boolean;
}

export const LINUX_X64: PruneTarget = { platform: 'linux', arch: 'x64', libc: 'gnu', keepGpuProviders: false };

export interface PruneReport {
  bytesBefore: number;
  bytesAfter: number;
  /** Removed paths, relative to the node_modules folder. */
  removed: string[];
}

// onnxruntime's install script can fetch these (CUDA 12 EP) into bin/napi-v*/linux/x64.
const GPU_PROVIDER = /^libonnxruntime_providers_(cuda|tensorrt|shared)\.so/;

/** Bytes on disk under `path` (files and symlinks themselves; symlinks are not followed). */
export async function sizeOf(path: string): Promise<number> {
  const info = await lstat(path).catch(() => undefined);
  if (!info) return 0;
  if (!info.isDirectory()) return info.size;
  const entries = await readdir(path);
  let total = 0;
  for (const entry of entries) total += await sizeOf(join(path, entry));
  return total;
}

async function listDirs(path: string): Promise<string[]> {
  const entries = await readdir(path, { withFileTypes: true }).catch(() => []);
  return entries.filter((e) => e.isDirectory()).map((e) => e.name);
}

async function listFiles(path: string): Promise<string[]> {
  const entries = await readdir(path, { withFileTypes: true }).catch(() => []);
  return entries.filter((e) => e.isFile()).map((e) => e.name);
}

/** Every installed copy of `pkg` (hoisted and nested ones). */
async function findPackages(nodeModules: string, pkg: string, prefix = ''): Promise<string[]> {
  const found: string[] = [];
  const direct = join(nodeModules, pkg);
  if ((await lstat(direct).catch(() => undefined))?.isDirectory()) found.push(join(prefix, pkg));
  for (const name of await listDirs(nodeModules)) {
    const scoped = name.startsWith('@') ? (await listDirs(join(nodeModules, name))).map((n) => join(name, n)) : [name];
    for (const dir of scoped) {
      const nested = join(nodeModules, dir, 'node_modules');
      if (await lstat(nested).catch(() => undefined)) found.push(...(await findPackages(nested, pkg, join(prefix, dir, 'node_modules'))));
    }
  }
  return found;
}

/** onnxruntime-node/bin/napi-v<N>/<platform>/<arch>: keep only the target's folder. */
async function onnxruntimeRemovals(nodeModules: string, target: PruneTarget): Promise<string[]> {
  const removals: string[] = [];
  for (const pkg of await findPackages(nodeModules, 'onnxruntime-node')) {
    const bin = join(pkg, 'bin');
    for (const napi of (await listDirs(join(nodeModules, bin))).filter((d) => d.startsWith('napi-v'))) {
      for (const platform of await listDirs(join(nodeModules, bin, napi))) {
        if (platform !== target.platform) {
          removals.push(join(bin, napi, platform));
          continue;
        }
        for (const arch of await listDirs(join(nodeModules, bin, napi, platform))) {
          const dir = join(bin, napi, platform, arch);
          if (arch !== target.arch) removals.push(dir);
          else if (!target.keepGpuProviders) {
            removals.push(...(await listFiles(join(nodeModules, dir))).filter((f) => GPU_PROVIDER.test(f)).map((f) => join(dir, f)));
          }
        }
      }
    }
  }
  return removals;
}

/**
 * tokenizers 0.2x ships `tokenizers.<platform>-<arch>[-<abi>].node` inside the package; older
 * releases installed optional packages `tokenizers-<platform>-<arch>[-<abi>]` instead. Both are cut
 * to the target's.
 */
async function tokenizersRemovals(nodeModules: string, target: PruneTarget): Promise<string[]> {
  const keep = target.platform === 'linux' ? `${target.platform}-${target.arch}-${target.libc}` : `${target.platform}-${target.arch}`;
  const removals: string[] = [];
  for (const pkg of await findPackages(nodeModules, 'tokenizers')) {
    for (const file of await listFiles(join(nodeModules, pkg))) {
      const m = /^tokenizers\.(.+)\.node$/.exec(file);
      if (m && m[1] !== keep) removals.push(join(pkg, file));
    }
  }
  const platformPackages = async (dir: string, prefix: string) =>
    (await listDirs(dir))
      .filter((d) => /^tokenizers-(android|darwin|freebsd|linux|win32)-/.test(d) && d !== `tokenizers-${keep}`)
      .map((d) => join(prefix, d));
  removals.push(...(await platformPackages(nodeModules, '')));
  for (const pkg of await findPackages(nodeModules, 'tokenizers')) {
    removals.push(...(await platformPackages(join(nodeModules, pkg, 'node_modules'), join(pkg, 'node_modules'))));
  }
  return removals;
}

/** Removes other platforms' onnxruntime and tokenizers binaries under `nodeModules`. */
export async function pruneNativeBinaries(nodeModules: string, target: PruneTarget = LINUX_X64): Promise<PruneReport> {
  const bytesBefore = await sizeOf(nodeModules);
  const removed = [...(await onnxruntimeRemovals(nodeModules, target)), ...(await tokenizersRemovals(nodeModules, target))].sort();
  for (const path of removed) await rm(join(nodeModules, path), { recursive: true, force: true });
  return { bytesBefore, bytesAfter: await sizeOf(nodeModules), removed };
}
