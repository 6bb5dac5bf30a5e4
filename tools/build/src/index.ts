export {
  bundleFunction,
  CREATE_REQUIRE_BANNER,
  EXTERNALS,
  externalsFor,
  FUNCTIONS,
  functionPackageJson,
  HOST_EXTERNALS,
  HOSTS,
  installedVersion,
  type BundleOptions,
  type BundleResult,
  type FunctionName,
  type Host,
} from './bundle.ts';
export { LINUX_X64, pruneNativeBinaries, sizeOf, type PruneReport, type PruneTarget } from './prune.ts';
