import { trainModel, type Hyperparameters } from '@mlops/trainer';
import { defaultData } from '@mlops/config';
import { createContext, dataPath } from '../context.ts';
import { createOutput, pct, table } from '../output.ts';
import { trainingProgress } from '../progress.ts';

export interface TrainFlags {
  data?: string | undefined;
  eval?: string | undefined;
  base?: string | undefined;
  /** The classes in order; default: the sorted distinct labels of the data. */
  labels?: string[] | undefined;
  textField?: string | undefined;
  labelField?: string | undefined;
  /** Only the training flags given: the trainer fills in its own defaults. */
  hyper?: Partial<Hyperparameters>;
  json: boolean;
}

export async function trainCommand(flags: TrainFlags): Promise<void> {
  const out = createOutput(flags.json);
  const ctx = createContext();
  const defaults = defaultData(ctx.settings);
  const data = dataPath(flags.data ?? defaults.train);
  const evalData = flags.eval === 'none' ? undefined : dataPath(flags.eval ?? defaults.eval);

  out.info(`training on ${data}${evalData ? `, evaluating on ${evalData}` : ''}; registry ${ctx.registry.store.uri}`);
  const progress = trainingProgress(out.info);
  // Ctrl-C stops the training core and lets the job delete its work folder before exiting.
  const abort = new AbortController();
  const cancel = () => abort.abort();
  process.once('SIGINT', cancel).once('SIGTERM', cancel);
  try {
    const result = await trainModel({
      data,
      ...(evalData ? { eval: evalData } : {}),
      ...(flags.base ? { base: flags.base } : {}),
      labels: flags.labels,
      textField: flags.textField,
      labelField: flags.labelField,
      hyper: flags.hyper,
      registry: ctx.registry,
      python: ctx.settings.MLOPS_PYTHON,
      actor: ctx.settings.MLOPS_ACTOR,
      onProgress: progress.onProgress,
      signal: abort.signal,
    });
    progress.stop();
    const rows = Object.entries(result.metrics).map(([name, m]) => [name, m.n, pct(m.accuracy), pct(m.macro_f1)]);
    out.result(
      [
        `registered ${result.version.version}${result.champion ? ' (champion)' : ''} in ${result.timings.total}s`,
        table([['dataset', 'n', 'accuracy', 'macro F1'], ...rows]),
        `timings (s): ${Object.entries(result.timings)
          .map(([k, v]) => `${k} ${v}`)
          .join(', ')}`,
      ].join('\n'),
      {
        ok: true,
        version: result.version.version,
        champion: result.champion,
        metrics: result.metrics,
        parity: result.parity,
        timings: result.timings,
      },
    );
  } finally {
    progress.stop();
    process.off('SIGINT', cancel).off('SIGTERM', cancel);
  }
}
