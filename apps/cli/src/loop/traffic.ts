import { createHash } from 'node:crypto';
import { z } from 'zod';

export interface LabelledText {
  text: string;
  label: string;
}

/** One served prediction and the truth, as the scenario's client saw them. */
export interface Served {
  phase: string;
  version: string;
  predicted: string;
  truth: string;
}

const predictAnswer = z.object({ model_version: z.string(), predictions: z.array(z.object({ id: z.string(), label: z.string() })) });

/**
 * Replays labelled texts as clients would: batches to POST /v1/predict (each batch from one of
 * `clients` sticky request keys), then the true labels to POST /v1/feedback by prediction id.
 */
export async function replay(
  predictUrl: string,
  rows: readonly LabelledText[],
  opts: {
    phase: string;
    apiKey?: string | undefined;
    batchSize?: number;
    concurrency?: number;
    clients?: number;
    onProgress?: (done: number) => void;
  },
): Promise<Served[]> {
  const batchSize = opts.batchSize ?? 16;
  const served: Served[] = [];
  const headers = { 'content-type': 'application/json', ...(opts.apiKey ? { authorization: `Bearer ${opts.apiKey}` } : {}) };
  const post = async (path: string, body: unknown, key: string) => {
    const res = await fetch(`${predictUrl}${path}`, {
      method: 'POST',
      headers: { ...headers, 'x-request-key': key },
      body: JSON.stringify(body),
    });
    const json: unknown = await res.json();
    if (!res.ok) throw new Error(`${path} answered ${res.status}: ${JSON.stringify(json)}`);
    return json;
  };
  let next = 0;
  let done = 0;
  const worker = async () => {
    for (let start = next; start < rows.length; start = next) {
      next += batchSize;
      const batch = rows.slice(start, start + batchSize);
      // Each batch comes from one of `clients` users, picked by hash: every replay reaches the whole population.
      const key = `client-${createHash('sha256').update(`${opts.phase}:${start}:${batch[0]!.text}`).digest().readUInt32BE(0) % (opts.clients ?? 500)}`;
      const answer = predictAnswer.parse(await post('/v1/predict', { texts: batch.map((r) => r.text) }, key));
      await post('/v1/feedback', { items: answer.predictions.map((p, i) => ({ prediction_id: p.id, label: batch[i]!.label })) }, key);
      answer.predictions.forEach((p, i) =>
        served.push({ phase: opts.phase, version: answer.model_version, predicted: p.label, truth: batch[i]!.label }),
      );
      done += batch.length;
      opts.onProgress?.(done);
    }
  };
  await Promise.all(Array.from({ length: opts.concurrency ?? 4 }, worker));
  return served;
}

/** Accuracy per phase and version, in the order phases were played. */
export function accuracyTable(served: readonly Served[]): { phase: string; version: string; n: number; accuracy: number }[] {
  const groups = new Map<string, { phase: string; version: string; n: number; correct: number }>();
  for (const s of served) {
    const key = `${s.phase}\u0000${s.version}`;
    const g = groups.get(key) ?? { phase: s.phase, version: s.version, n: 0, correct: 0 };
    g.n++;
    if (s.predicted === s.truth) g.correct++;
    groups.set(key, g);
  }
  return [...groups.values()].map((g) => ({ phase: g.phase, version: g.version, n: g.n, accuracy: g.correct / g.n }));
}
