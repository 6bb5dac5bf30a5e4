/**
 * What a deploy target is to deploy.ts: one DeployProvider per folder here, chosen by name from the
 * PROVIDERS table (index.ts). deploy.ts does everything that is the same for all of them (settings,
 * bundles, writing and printing files, the report); a provider only says what it writes and sends.
 */
import type { DeploySettings, FunctionName, ProviderSettings } from '../config.ts';
import type { ModelCache, SizedSpec } from '../sizing.ts';
import type { LiveFunction } from '../summary.ts';

/** tools/build's `--host`: which entry the function bundle gets. */
export type BundleHost = 'node' | 'cloud-function' | 'lambda';

/** One deploy to one provider, as deploy.ts hands it over. */
export interface DeployRun<Settings extends DeploySettings = DeploySettings, Clients extends object = object> {
  readonly settings: Settings;
  /** The functions named on the command line ('all': every one), in FUNCTIONS order. */
  readonly functions: readonly FunctionName[];
  /** A function's spec sized for the model being deployed and this provider's cache (sizing.ts); throws SizingError when it cannot fit. */
  spec(fn: FunctionName): SizedSpec;
  /** A pipeline's deploy (`--non-interactive`): nothing may be left to a person to fix up later. */
  readonly nonInteractive: boolean;
  /** How a new revision takes traffic (`--traffic`, `--tag`); only ever set for a provider that splits traffic. */
  readonly rollout: Rollout | undefined;
  /** `<out>/<provider>`: where the requests and manifests go. */
  readonly outDir: string;
  /** Where the bundles are (`<fn>/<host>/`, and the zips made from them). */
  readonly functionsDir: string;
  readonly repoRoot: string;
  readonly env: NodeJS.ProcessEnv;
  /** Clients the caller injected (tests); a provider creates the real ones on demand. */
  readonly clients: Partial<Clients>;
  /** The function's bundle folder for this provider's host: built by tools/build unless --skip-build. */
  bundle(fn: FunctionName): Promise<string>;
  /** Writes a file and lists it in the report; it is printed unless `show` is false. */
  write(path: string, text: string, options?: { show?: boolean }): Promise<void>;
  log(line: string): void;
  /** Records what was done (or, in a dry run, what would be). */
  action(text: string): void;
  /** Records what is live after the deploy, for the summary (summary.ts). */
  live(row: LiveFunction): void;
}

/** `traffic <fn> --to <tag|revision> --percent N`: no new revision, only where requests go. */
export interface TrafficShift<Settings extends DeploySettings = DeploySettings, Clients extends object = object> {
  readonly settings: Settings;
  readonly clients: Partial<Clients>;
  readonly fn: FunctionName;
  /** A tag (`sha-1a2b3c4`) or a revision name. */
  readonly to: string;
  /** 1–100; the rest goes to the revision serving the most now. */
  readonly percent: number;
  log(line: string): void;
}

/** A new revision's share of traffic, the rest staying on the revision serving before it. */
export interface Rollout {
  /** 1–100. */
  percent: number;
  /** A name for the new revision's own URL (`https://<tag>---<service>…`), e.g. the commit's. */
  tag?: string;
}

export interface DeployProvider<
  Name extends string = string,
  Block extends object = object,
  Clients extends object = object,
> extends ProviderSettings<Block> {
  readonly name: Name;
  readonly bundleHost: BundleHost;
  /** Whether a new revision can take a share of traffic (`--traffic`, `--tag`, `traffic`). */
  readonly splitsTraffic: boolean;
  /** Checks the settings together before anything is built or sent; throws what is wrong. */
  validate?(settings: DeploySettings & Block): void;
  /** The images a deploy of these functions sends by digest (a pipeline's deploy must be given each). */
  imagesFor?(functions: readonly FunctionName[]): string[];
  /** Moves a share of one function's traffic to a revision it has (the `traffic` command). */
  shiftTraffic?(shift: TrafficShift<DeploySettings & Block, Clients>): Promise<LiveFunction>;
  /** Where a function's model cache (MLOPS_CACHE_DIR) lives, which decides what sizing counts against memory. */
  readonly modelCache: ModelCache;
  /** Dry run: writes and prints exactly what apply would send, sends nothing, needs no credentials. */
  plan(run: DeployRun<DeploySettings & Block, Clients>): Promise<void>;
  /** Writes the same files as plan, then sends them. */
  apply(run: DeployRun<DeploySettings & Block, Clients>): Promise<void>;
  /** Its hand-off files in deploy/ (path relative to the repository root → text), from dry-run settings and the default model's sizing. */
  referenceSpecs?(settings: DeploySettings & Block, repoRoot: string, spec: (fn: FunctionName) => SizedSpec): Record<string, string>;
}
