import { HYPERPARAMETER_NAMES, jobKey, TRAINING_SETTINGS, type Hyperparameters, type SettingSection } from './hyperparameters.ts';

/**
 * job.json, read by python/mlops_trainer/job.py, which has no defaults of its own: it refuses a
 * missing or unknown key, so every value the core uses comes from here.
 */
export interface CoreJob {
  work: string;
  out: string;
  base: string | null;
  /** The task's classes: shard label i is labels[i]. A kept base head may order the same classes its own way. */
  labels: string[];
  /** null when fine-tuning: the base checkpoint's config.json fixes the model. */
  model: Record<string, number> | null;
  train: Record<string, number>;
}

export function coreJob(hyper: Hyperparameters, paths: { work: string; out: string; base: string | null; labels: string[] }): CoreJob {
  const section = (wanted: SettingSection) =>
    Object.fromEntries(
      HYPERPARAMETER_NAMES.filter((name) => TRAINING_SETTINGS[name].section === wanted).map((name) => [jobKey(name), hyper[name]]),
    );
  return { ...paths, model: paths.base ? null : section('model'), train: section('train') };
}
