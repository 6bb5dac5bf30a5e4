/**
 * One code path for the Nx executor and the CLI: build the function for the provider's host, then
 * either write and print the exact requests (dry run: no credentials, nothing sent) or send them.
 * Dry-run files land in <out>/<provider>/… (default dist/deploy/). What is written and sent is the
 * provider's (providers/<name>/); this file does what is the same for all of them.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { REPO_ROOT } from '@mlops/config';
import { bundle } from './bundle.ts';
import { FUNCTION_SPECS, FUNCTIONS, loadProviderSettings, type DeploySettings, type FunctionName } from './config.ts';
import {
  PROVIDER_NAMES,
  providerNamed,
  type DeployClients,
  type DeployProvider,
  type DeployRun,
  type ProviderName,
} from './providers/index.ts';
import { DEFAULT_MODEL_MIB, sizedSpec, sizingLine } from './sizing.ts';

export interface DeployOptions {
  target: FunctionName | 'all';
  provider: ProviderName;
  dryRun: boolean;
  /** `<revision>=<percent>` (providers that split traffic: Cloud Run). */
  canary?: string;
  /** Use the bundles already in `functionsDir` (tests, CI that built them in an earlier step). */
  skipBuild?: boolean;
  outDir?: string;
  /** MiB of the model's ONNX file, which sizes memory and /tmp (sizing.ts); default DEFAULT_MODEL_MIB. */
  modelMiB?: number;
  functionsDir?: string;
  repoRoot?: string;
  env?: NodeJS.ProcessEnv;
  log?: (line: string) => void;
  /** Injected clients (tests); real ones are created on demand. */
  clients?: Partial<DeployClients>;
}

export interface DeployReport {
  settings: DeploySettings;
  files: string[];
  actions: string[];
}

export function deploy(opts: DeployOptions): Promise<DeployReport> {
  return deployWith(providerNamed(opts.provider), opts);
}

/** `opts.clients` holds any provider's clients (DeployClients), so this provider's are among them. */
async function deployWith<Block extends object, Clients extends object>(
  provider: DeployProvider<string, Block, Clients>,
  opts: DeployOptions & { clients?: Partial<NoInfer<Clients>> },
): Promise<DeployReport> {
  const repoRoot = opts.repoRoot ?? REPO_ROOT;
  const outDir = resolve(repoRoot, opts.outDir ?? 'dist/deploy');
  const functionsDir = resolve(repoRoot, opts.functionsDir ?? 'dist/functions');
  const env = opts.env ?? process.env;
  const log = opts.log ?? ((line: string) => process.stdout.write(`${line}\n`));
  const settings = loadProviderSettings(provider, env, opts.dryRun);
  if (opts.canary && !provider.splitsTraffic)
    throw new Error(`--canary splits traffic between revisions; ${provider.name} has no revisions to split`);
  if (opts.canary && opts.target === 'all') throw new Error('--canary applies to one function: name it instead of "all"');
  const report: DeployReport = { settings, files: [], actions: [] };
  if (settings.placeholders.length > 0)
    log(`dry run: placeholders stand in for ${settings.placeholders.join(', ')} (set them for a real deploy)`);
  const modelMiB = opts.modelMiB ?? DEFAULT_MODEL_MIB;
  const spec = (fn: FunctionName) => sizedSpec(FUNCTION_SPECS[fn], modelMiB, provider.modelCache);
  const functions = opts.target === 'all' ? FUNCTIONS : [opts.target];
  for (const fn of functions) log(sizingLine(spec(fn), modelMiB, provider.modelCache));

  const run: DeployRun<DeploySettings & Block, Clients> = {
    settings,
    target: opts.target,
    functions,
    spec,
    canary: opts.canary,
    outDir: join(outDir, provider.name),
    functionsDir,
    repoRoot,
    env,
    clients: opts.clients ?? {},
    bundle: (fn) =>
      opts.skipBuild
        ? Promise.resolve(join(functionsDir, fn, provider.bundleHost))
        : bundle(fn, provider.bundleHost, functionsDir, repoRoot),
    async write(path, text, { show = true } = {}) {
      await mkdir(dirname(path), { recursive: true });
      await writeFile(path, text);
      report.files.push(path);
      if (show) log(`--- ${path}\n${text.trimEnd()}`);
    },
    log,
    action: (text) => {
      report.actions.push(text);
    },
  };
  await (opts.dryRun ? provider.plan(run) : provider.apply(run));
  return report;
}

/** The hand-off specs in deploy/ each provider owns (deploy/gcp/*.yaml, deploy/aws/serverless.yml), with placeholders. */
export async function writeDeploySpecs(repoRoot: string = REPO_ROOT, env: NodeJS.ProcessEnv = {}): Promise<string[]> {
  const written: string[] = [];
  for (const name of PROVIDER_NAMES) {
    for (const [path, text] of Object.entries(referenceSpecsOf(providerNamed(name), env, repoRoot))) {
      const full = join(repoRoot, path);
      await mkdir(dirname(full), { recursive: true });
      await writeFile(full, text);
      written.push(full);
    }
  }
  return written;
}

function referenceSpecsOf<Block extends object>(
  provider: DeployProvider<string, Block>,
  env: NodeJS.ProcessEnv,
  repoRoot: string,
): Record<string, string> {
  const spec = (fn: FunctionName) => sizedSpec(FUNCTION_SPECS[fn], DEFAULT_MODEL_MIB, provider.modelCache);
  return provider.referenceSpecs?.(loadProviderSettings(provider, env, true), repoRoot, spec) ?? {};
}
