import { createContext, loadModel } from '../context.ts';
import { createOutput } from '../output.ts';

export async function predictCommand(texts: string[], flags: { version?: string; alias?: string; json: boolean }): Promise<void> {
  const out = createOutput(flags.json);
  if (texts.some((t) => t.trim() === '')) throw new Error('texts must not be empty');
  const { version, classifier } = await loadModel(createContext(), flags);
  try {
    const predictions = await classifier.predict(texts);
    out.result(predictions.map((p, i) => `${p.label.padEnd(10)} ${p.score.toFixed(4)}  ${texts[i]!.slice(0, 80)}`).join('\n'), {
      ok: true,
      version,
      predictions,
    });
  } finally {
    await classifier.release();
  }
}
