import { fieldOptions } from '@mlops/data';
import { evaluateOnDataset } from '@mlops/monitoring';
import { createContext, dataPath, loadModel } from '../context.ts';
import { createOutput, pct, table } from '../output.ts';

export async function evaluateCommand(flags: {
  data: string;
  version?: string;
  alias?: string;
  textField?: string | undefined;
  labelField?: string | undefined;
  json: boolean;
}): Promise<void> {
  const out = createOutput(flags.json);
  const ctx = createContext();
  const data = dataPath(flags.data);
  const { version, classifier } = await loadModel(ctx, flags);
  try {
    out.info(`evaluating ${version} on ${data}`);
    let lastReport = 0;
    const result = await evaluateOnDataset(classifier, data, {
      read: fieldOptions(flags),
      onProgress: (done, total) => {
        if (done === total || performance.now() - lastReport > 5000) {
          lastReport = performance.now();
          out.info(`  ${done}/${total} rows`);
        }
      },
    });
    const m = result.metrics;
    const perClass = Object.entries(m.per_class).map(([label, c]) => [label, c.support, pct(c.precision), pct(c.recall), pct(c.f1)]);
    out.result(
      [
        `${version} on ${data}: accuracy ${pct(m.accuracy)} (95% CI ${pct(m.accuracy_ci95[0])}–${pct(m.accuracy_ci95[1])}), macro F1 ${pct(m.macro_f1)}, n=${m.n}`,
        table([['class', 'n', 'precision', 'recall', 'F1'], ...perClass]),
        `${result.rows_per_second.toFixed(0)} rows/s, ${result.seconds.toFixed(1)}s; ${result.data.bad} bad rows skipped`,
      ].join('\n'),
      { ok: true, version, data, ...m, bad_rows: result.data.bad, seconds: result.seconds, rows_per_second: result.rows_per_second },
    );
  } finally {
    await classifier.release();
  }
}
