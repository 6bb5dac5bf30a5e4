import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { z } from 'zod';

/** The repository root, found from this file (libs/config/src). */
export const REPO_ROOT = resolve(import.meta.dirname, '..', '..', '..');

/** Settings read from the environment, validated once at startup. */
const settingsSchema = z.object({
  /** Where registry, logs and outputs live: a folder or file://, gs://, s3:// URI. */
  MLOPS_STORE: z.string().min(1).default(join(REPO_ROOT, '.mlops')),
  /** The IMDB and SST-2 packs; the embedded default reads them beside the repo. */
  MLOPS_DATA_DIR: z
    .string()
    .min(1)
    .default(resolve(REPO_ROOT, '..', 'shared', 'data')),
  MLOPS_MODEL: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'letters, digits, ".", "_" and "-" only')
    .default('sentiment'),
  /** Local disk cache for model versions read from the store. */
  MLOPS_CACHE_DIR: z.string().min(1).default(join(tmpdir(), 'mlops-cache')),
  /** Debian's python3 carries python3-torch; a pyenv or venv python on PATH usually does not. */
  MLOPS_PYTHON: z
    .string()
    .min(1)
    .default(existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3'),
  MLOPS_ACTOR: z
    .string()
    .min(1)
    .default(process.env.USER ? `${process.env.USER}@local` : 'local'),
});

export type Settings = z.infer<typeof settingsSchema>;

export class SettingsError extends Error {
  readonly code = 'SETTINGS_ERROR';
}

/** The embedded default's training and evaluation sets. */
export function defaultData(settings: Settings): { train: string; eval: string } {
  return {
    train: join(settings.MLOPS_DATA_DIR, 'imdb', 'train.jsonl.gz'),
    eval: join(settings.MLOPS_DATA_DIR, 'imdb', 'test.jsonl.gz'),
  };
}

export function loadSettings(env: NodeJS.ProcessEnv = process.env): Settings {
  const parsed = settingsSchema.safeParse(env);
  if (!parsed.success) throw new SettingsError(`invalid settings: ${z.prettifyError(parsed.error)}`);
  return parsed.data;
}
