import { existsSync } from 'node:fs';
import { loadSettings, type Settings } from '@mlops/config';
import { createRegistry, type ModelRegistry, type VersionRef } from '@mlops/registry';
import { openStore } from '@mlops/storage';
import { downloadForInference, TextClassifier } from '@mlops/inference';

export interface Context {
  settings: Settings;
  registry: ModelRegistry;
}

export function createContext(env: NodeJS.ProcessEnv = process.env): Context {
  const settings = loadSettings(env);
  return { settings, registry: createRegistry(openStore(settings.MLOPS_STORE), settings.MLOPS_MODEL) };
}

/** Resolves a version or alias (default: champion) and caches what inference reads of it on local disk. */
export async function fetchModel(ctx: Context, ref: VersionRef): Promise<{ version: string; dir: string }> {
  const info = await ctx.registry.resolve(ref.version || ref.alias ? ref : { alias: 'champion' });
  return { version: info.version, dir: await downloadForInference(ctx.registry, info.version, ctx.settings.MLOPS_CACHE_DIR) };
}

/** The same, loaded for inference. */
export async function loadModel(ctx: Context, ref: VersionRef): Promise<{ version: string; classifier: TextClassifier }> {
  const { version, dir } = await fetchModel(ctx, ref);
  return { version, classifier: await TextClassifier.load(dir) };
}

export function dataPath(uri: string): string {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(uri) || existsSync(uri)) return uri;
  throw new Error(`data file not found: ${uri}`);
}
