/**
 * The providers by name: deploy.ts, the CLI/executor options and schema.json all derive from this
 * table. A new provider is a folder beside these exporting a DeployProvider, and one line here.
 */
import { loadProviderSettings, type DeploySettings } from '../config.ts';
import { cloudFunctionsProvider } from './cloudfunctions/index.ts';
import { cloudRunProvider } from './cloudrun/index.ts';
import { lambdaProvider } from './lambda/index.ts';
import type { DeployProvider } from './types.ts';

export const PROVIDERS = {
  cloudrun: cloudRunProvider,
  cloudfunctions: cloudFunctionsProvider,
  lambda: lambdaProvider,
} as const;

export type ProviderName = keyof typeof PROVIDERS;
type ProviderOf<P extends ProviderName> = (typeof PROVIDERS)[P];
type BlockOf<P extends ProviderName> = ProviderOf<P> extends DeployProvider<string, infer Block, object> ? Block : never;
type ClientsOf<P extends ProviderName> = ProviderOf<P> extends DeployProvider<string, object, infer Clients> ? Clients : never;

/**
 * The table seen through its names: `providerNamed(name)` is a DeployProvider whose settings and
 * clients are those of `name`, so a generic caller keeps one provider's types together (TS's
 * correlated-union pattern). The assignment also checks that each key is its provider's name.
 */
const PROVIDERS_BY_NAME: { readonly [P in ProviderName]: DeployProvider<P, BlockOf<P>, ClientsOf<P>> } = PROVIDERS;

export function providerNamed<P extends ProviderName>(name: P): DeployProvider<P, BlockOf<P>, ClientsOf<P>> {
  return PROVIDERS_BY_NAME[name];
}

/** Object.keys types its result string[]; these are exactly the table's keys. */
export const PROVIDER_NAMES = Object.keys(PROVIDERS) as ProviderName[];

/** The settings a provider's adapter works with: the shared ones and its own block. */
export type SettingsOf<P extends ProviderName> = DeploySettings & BlockOf<P>;

type Intersection<U> = (U extends unknown ? (u: U) => void : never) extends (i: infer I) => void ? I : never;
/** Every provider's injectable clients in one object (tests pass fakes; each provider reads its own). */
export type DeployClients = Intersection<ClientsOf<ProviderName>>;

/** The named provider's settings from the environment (see config.ts for what is checked). */
export function loadDeploySettings<P extends ProviderName>(env: NodeJS.ProcessEnv, provider: P, dryRun: boolean): SettingsOf<P> {
  return loadProviderSettings(providerNamed(provider), env, dryRun);
}

export type { DeployProvider, DeployRun, BundleHost } from './types.ts';
