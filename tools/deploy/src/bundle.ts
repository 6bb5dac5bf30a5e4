/** tools/build's CLI, run as a process: a tool project may not import another tool (module boundaries). */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import type { FunctionName } from './config.ts';
import type { BundleHost } from './providers/types.ts';

function run(cmd: string, args: readonly string[], cwd: string): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(cmd, args, { cwd, stdio: ['ignore', 'inherit', 'inherit'] });
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolvePromise() : reject(new Error(`${cmd} ${args.join(' ')} exited with ${code}`))));
  });
}

const tsx = (repoRoot: string) => join(repoRoot, 'node_modules', '.bin', 'tsx');
const buildCli = (repoRoot: string) => join(repoRoot, 'tools/build/src/main.ts');

/** Builds `<functionsDir>/<fn>/<host>/` and returns that folder. */
export async function bundle(fn: FunctionName, host: BundleHost, functionsDir: string, repoRoot: string): Promise<string> {
  await run(tsx(repoRoot), [buildCli(repoRoot), fn, '--host', host, '--out', functionsDir], repoRoot);
  return join(functionsDir, fn, host);
}

/** The externals (onnxruntime-node, tokenizers, …) installed beside the bundle and pruned to linux-x64. */
export async function installExternals(dir: string, repoRoot: string): Promise<void> {
  await run('npm', ['install', '--omit=dev', '--no-package-lock', '--loglevel=error'], dir);
  await run(tsx(repoRoot), [buildCli(repoRoot), 'prune', join(dir, 'node_modules')], repoRoot);
}
