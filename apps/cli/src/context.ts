import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadSettings, type Settings } from '@mlops/config';
import { createRegistry, type ModelRegistry, type VersionRef } from '@mlops/registry';
import { openStore } from '@mlops/storage';
import { TextClassifier } from '@mlops/inference';

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const SHARED_DATA = resolve(REPO_ROOT, '..', 'shared', 'data');

/** The embedded default: IMDB packs beside the repo, a `.mlops` store at the repo root. */
export const DEFAULT_TRAIN_DATA = join(SHARED_DATA, 'imdb', 'train.jsonl.gz');
export const DEFAULT_EVAL_DATA = join(SHARED_DATA, 'imdb', 'test.jsonl.gz');

export interface Context {
  settings: Settings;
  registry: ModelRegistry;
}

export function createContext(env: NodeJS.ProcessEnv = process.env): Context {
  const settings = loadSettings({ MLOPS_STORE: join(REPO_ROOT, '.mlops'), ...env });
  return { settings, registry: createRegistry(openStore(settings.MLOPS_STORE), settings.MLOPS_MODEL) };
}

/** Resolves a version or alias (default: champion), caches it on local disk and loads it for inference. */
export async function loadModel(ctx: Context, ref: VersionRef): Promise<{ version: string; classifier: TextClassifier }> {
  const info = await ctx.registry.resolve(ref.version || ref.alias ? ref : { alias: 'champion' });
  const dir = await ctx.registry.downloadVersion(info.version, ctx.settings.MLOPS_CACHE_DIR);
  return { version: info.version, classifier: await TextClassifier.load(dir) };
}

export function dataPath(uri: string): string {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(uri) || existsSync(uri)) return uri;
  throw new Error(`data file not found: ${uri}`);
}
