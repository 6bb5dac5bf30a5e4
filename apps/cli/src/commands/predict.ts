import { createContext, loadModel } from '../context.ts';
import { createOutput, table } from '../output.ts';

export async function predictCommand(texts: string[], flags: { version?: string; alias?: string; json: boolean }): Promise<void> {
  const out = createOutput(flags.json);
  if (texts.some((t) => t.trim() === '')) throw new Error('texts must not be empty');
  const { version, classifier } = await loadModel(createContext(), flags);
  try {
    const predictions = await classifier.predict(texts);
    // A table sizes the label column to the longest class name, whatever the model's classes.
    out.result(table(predictions.map((p, i) => [p.label, p.score.toFixed(4), texts[i]!.slice(0, 80)])), {
      ok: true,
      version,
      predictions,
    });
  } finally {
    await classifier.release();
  }
}
