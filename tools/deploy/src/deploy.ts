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
import type { Images } from './images.ts';
import type { Rollout } from './providers/types.ts';
import { DEFAULT_MODEL_MIB, sizedSpec, sizingLine } from './sizing.ts';
import { writeSummary, type LiveFunction } from './summary.ts';

export interface DeployOptions {
  /** One function, several, or 'all'. */
  target: FunctionName | 'all' | readonly FunctionName[];
  provider: ProviderName;
  dryRun: boolean;
  /**
   * For pipelines: everything a deploy needs is checked before anything is sent, and the first
   * thing missing (settings, then image digests) fails it with one message; images only by digest.
   */
  nonInteractive?: boolean;
  /** Images by digest (images.ts, from build-images.sh): functions' images on Cloud Run, the trainer's. */
  images?: Images;
  /** Providers that split traffic (Cloud Run): the new revision's share and tag. */
  rollout?: Rollout;
  /** Appends what was deployed, as Markdown, to this file (the pipeline's $GITHUB_STEP_SUMMARY). */
  summaryFile?: string;
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
  live: LiveFunction[];
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
  const settings = { ...loadProviderSettings(provider, env, opts.dryRun), images: opts.images ?? {} };
  if (opts.rollout && !provider.splitsTraffic)
    throw new Error(`--traffic and --tag give a new revision a share of traffic; ${provider.name} has no revisions to split`);
  const functions = selectedFunctions(opts.target);
  if (opts.nonInteractive && !opts.dryRun) {
    const missing = (provider.imagesFor?.(functions) ?? []).filter((image) => settings.images[image] === undefined);
    if (missing.length > 0)
      throw new Error(
        `deploy to ${provider.name} needs ${missing.join(', ')} by digest (--images, as tools/ci/scripts/build-images.sh writes it): a pipeline never deploys an image by its tag`,
      );
  }
  provider.validate?.(settings);
  const report: DeployReport = { settings, files: [], actions: [], live: [] };
  if (settings.placeholders.length > 0)
    log(`dry run: placeholders stand in for ${settings.placeholders.join(', ')} (set them for a real deploy)`);
  const modelMiB = opts.modelMiB ?? DEFAULT_MODEL_MIB;
  const spec = (fn: FunctionName) => sizedSpec(FUNCTION_SPECS[fn], modelMiB, provider.modelCache);
  for (const fn of functions) log(sizingLine(spec(fn), modelMiB, provider.modelCache));

  const run: DeployRun<DeploySettings & Block, Clients> = {
    settings,
    functions,
    spec,
    nonInteractive: opts.nonInteractive ?? false,
    rollout: opts.rollout,
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
    live: (row) => {
      report.live.push(row);
    },
  };
  try {
    await (opts.dryRun ? provider.plan(run) : provider.apply(run));
  } finally {
    // A deploy that fails half way still says what it did before it failed.
    if (opts.summaryFile) await writeSummary(opts.summaryFile, provider.name, opts.dryRun, report.live);
  }
  return report;
}

export interface ShiftOptions {
  function: FunctionName;
  provider: ProviderName;
  to: string;
  percent: number;
  summaryFile?: string;
  env?: NodeJS.ProcessEnv;
  log?: (line: string) => void;
  clients?: Partial<DeployClients>;
}

/** Moves a share of a function's traffic to one of its revisions (Cloud Run), e.g. the rest to a canaried one. */
export function shiftTraffic(opts: ShiftOptions): Promise<LiveFunction> {
  return shiftWith(providerNamed(opts.provider), opts);
}

async function shiftWith<Block extends object, Clients extends object>(
  provider: DeployProvider<string, Block, Clients>,
  opts: ShiftOptions & { clients?: Partial<NoInfer<Clients>> },
): Promise<LiveFunction> {
  if (!provider.shiftTraffic) throw new Error(`${provider.name} has no revisions to shift traffic between`);
  const log = opts.log ?? ((line: string) => process.stdout.write(`${line}\n`));
  const settings = { ...loadProviderSettings(provider, opts.env ?? process.env, false), images: {} };
  const row = await provider.shiftTraffic({
    settings,
    clients: opts.clients ?? {},
    fn: opts.function,
    to: opts.to,
    percent: opts.percent,
    log,
  });
  if (opts.summaryFile) await writeSummary(opts.summaryFile, provider.name, false, [row]);
  return row;
}

/** The named functions in FUNCTIONS order, each once. */
function selectedFunctions(target: DeployOptions['target']): FunctionName[] {
  if (target === 'all') return [...FUNCTIONS];
  const named: readonly FunctionName[] = typeof target === 'string' ? [target] : target;
  if (named.length === 0) throw new Error('name at least one function to deploy, or "all"');
  return FUNCTIONS.filter((fn) => named.includes(fn));
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
