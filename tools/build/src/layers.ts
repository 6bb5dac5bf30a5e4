/**
 * The application layers of deploy/functions.Dockerfile, built without Docker and measured: the
 * final stage's COPY instructions are read from the Dockerfile, the `/function` folder they copy is
 * made the way the build stage makes it (bundle, `npm install --omit=dev` beside it, prune to
 * linux-x64), and each layer is sized as files, unpacked bytes and a gzip'd tar (what a registry
 * stores). The base image is not part of it.
 */
import { spawn } from 'node:child_process';
import { lstat, mkdir, readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { REPO_ROOT } from '@mlops/config';
import { create } from 'tar';
import { bundleFunction, type FunctionName } from './bundle.ts';
import { envOf, parseDockerfile } from './dockerfile.ts';
import { LINUX_X64, pruneNativeBinaries, sizeOf } from './prune.ts';

export interface LayerSize {
  /** Regular files and symlinks (directories are not counted). */
  files: number;
  /** Bytes on disk, as prune.ts's sizeOf counts them. */
  unpackedBytes: number;
  tarBytes: number;
  /** gzip level 6, the default of docker/BuildKit layer compression. */
  gzipBytes: number;
}

async function countFiles(dir: string): Promise<number> {
  let n = 0;
  for (const entry of await readdir(dir, { withFileTypes: true })) n += entry.isDirectory() ? await countFiles(join(dir, entry.name)) : 1;
  return n;
}

/** `dir` as the tar a COPY to `dest` adds: its entries under dest (without the leading /), in name order. */
export async function* layerTar(dir: string, dest: string): AsyncGenerator<Buffer> {
  const names = (await readdir(dir)).sort();
  yield* create({ cwd: dir, prefix: dest.replace(/^\/+/, ''), portable: true }, names);
}

export async function measureLayer(dir: string, dest: string): Promise<LayerSize> {
  let tarBytes = 0;
  let gzipBytes = 0;
  await pipeline(
    layerTar(dir, dest),
    async function* (source: AsyncIterable<Buffer>) {
      for await (const chunk of source) {
        tarBytes += chunk.length;
        yield chunk;
      }
    },
    createGzip({ level: 6 }),
    async (source: AsyncIterable<Buffer>) => {
      for await (const chunk of source) gzipBytes += chunk.length;
    },
  );
  return { files: await countFiles(dir), unpackedBytes: await sizeOf(dir), tarBytes, gzipBytes };
}

export interface ImageLayer {
  /** The instruction as written, e.g. `COPY --from=build /function /app`. */
  instruction: string;
  dest: string;
}

export interface FunctionImagePlan {
  layers: ImageLayer[];
  /** The build stage's ENV, which the `npm install` of the externals runs under. */
  buildEnv: Record<string, string>;
}

/** The final stage's content layers; only `COPY --from=build /function <dest>` is known how to build. */
export function functionImagePlan(dockerfile: string): FunctionImagePlan {
  const { stages } = parseDockerfile(dockerfile);
  const final = stages.at(-1);
  const build = stages.find((s) => s.name === 'build');
  const layers: ImageLayer[] = [];
  for (const i of final?.instructions ?? []) {
    if (i.keyword !== 'COPY' && i.keyword !== 'ADD') continue;
    if (i.keyword !== 'COPY' || i.flags.from !== 'build' || i.args.length !== 2 || i.args[0] !== '/function') {
      throw new Error(
        `deploy/functions.Dockerfile line ${i.line}: only COPY --from=build /function <dest> can be rebuilt without Docker (update tools/build/src/layers.ts)`,
      );
    }
    layers.push({ instruction: `COPY --from=build /function ${i.args[1]}`, dest: i.args[1] ?? '/' });
  }
  const buildEnv: Record<string, string> = Object.assign({}, ...(build?.instructions ?? []).filter((i) => i.keyword === 'ENV').map(envOf));
  return { layers, buildEnv };
}

function run(cmd: string, args: readonly string[], cwd: string, env: NodeJS.ProcessEnv): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd, env, stdio: ['ignore', 'ignore', 'inherit'] });
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`${cmd} ${args.join(' ')} exited with ${code}`))));
  });
}

export interface FunctionLayers {
  name: FunctionName;
  layers: (ImageLayer & LayerSize)[];
}

/**
 * Builds `/function` for `name` in `workDir/<name>` as the Dockerfile's build stage does (HOST=node,
 * its default), measures each layer, and removes the folder. `workDir` must be outside the
 * repository, like the Dockerfile's /function: npm would otherwise see the workspace root.
 */
export async function functionImageLayers(name: FunctionName, workDir: string, repoRoot: string = REPO_ROOT): Promise<FunctionLayers> {
  const plan = functionImagePlan(await readFile(join(repoRoot, 'deploy/functions.Dockerfile'), 'utf8'));
  const dir = join(workDir, name);
  await mkdir(workDir, { recursive: true });
  try {
    await bundleFunction(name, 'node', dir, { repoRoot });
    await run('npm', ['install', '--omit=dev', '--no-package-lock', '--loglevel=error'], dir, { ...process.env, ...plan.buildEnv });
    if (await lstat(join(dir, 'node_modules')).catch(() => undefined)) await pruneNativeBinaries(join(dir, 'node_modules'), LINUX_X64);
    const layers = [];
    for (const layer of plan.layers) layers.push({ ...layer, ...(await measureLayer(dir, layer.dest)) });
    return { name, layers };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
