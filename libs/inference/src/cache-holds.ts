import { rm } from 'node:fs/promises';
import type { ModelRegistry } from '@mlops/registry';
import { downloadForInference } from './classifier.ts';

/**
 * How many holders in this process use each cached version folder (serving it, loading it, or
 * scoring with it). Process-wide, because predict's champion and challenger watchers share one
 * cache and often one version, and a laptop run has every function in one process.
 */
const holders = new Map<string, number>();

async function letGo(dir: string): Promise<void> {
  const left = (holders.get(dir) ?? 1) - 1;
  if (left > 0) {
    holders.set(dir, left);
    return;
  }
  holders.delete(dir);
  await rm(dir, { recursive: true, force: true });
}

/** A version's folder in the model cache, kept until its holder lets go. */
export interface CachedVersion {
  dir: string;
  /** The last holder to let go removes the folder. */
  release(): Promise<void>;
}

/**
 * Downloads what inference reads of a version (`downloadForInference`) and holds the folder. On
 * Cloud Run and Cloud Functions /tmp is memory, so an instance that kept every version it ever
 * served would grow by a model per promotion: the folder goes once nobody holds it. It is held from
 * before the download, so a holder letting go of the same version cannot remove it mid-download.
 */
export async function holdForInference(
  registry: Pick<ModelRegistry, 'downloadVersion' | 'cachedVersionDir'>,
  version: string,
  cacheDir: string,
): Promise<CachedVersion> {
  const dir = registry.cachedVersionDir(version, cacheDir);
  holders.set(dir, (holders.get(dir) ?? 0) + 1);
  let released = false;
  const release = async () => {
    if (released) return;
    released = true;
    await letGo(dir);
  };
  try {
    await downloadForInference(registry, version, cacheDir);
  } catch (error) {
    await release().catch(() => undefined);
    throw error;
  }
  return { dir, release };
}
