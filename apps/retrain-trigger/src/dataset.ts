import { fingerprint, loadDataset, textHash, type Example } from '@mlops/data';
import { dedupeFeedback, FeedbackRecordSchema, isHoldout, readLogAll, toJsonl, type FeedbackRecord } from '@mlops/monitoring';
import type { ObjectStore } from '@mlops/storage';

export interface TrainingSetOptions {
  runId: string;
  /** Base data (e.g. IMDB train) sampled beside the feedback, so the model keeps its first domain. */
  baseData: string | undefined;
  baseRows: number;
  labels: readonly string[];
  seed?: number;
}

export interface TrainingSet {
  key: string;
  rows: number;
  feedback_rows: number;
  base_rows: number;
  /** The newest feedback included: rows after it count as new for the next run. */
  feedback_until: string;
}

/** Labelled feedback a model may learn from: with text, one label per text (the latest), never the held-out share. */
export function trainableFeedback(records: readonly FeedbackRecord[]): FeedbackRecord[] {
  const latestByText = new Map<string, FeedbackRecord>();
  for (const r of dedupeFeedback(records)) {
    if (r.text === undefined || isHoldout(r.text_hash)) continue;
    const seen = latestByText.get(r.text_hash);
    if (!seen || seen.time <= r.time) latestByText.set(r.text_hash, r);
  }
  return [...latestByText.values()];
}

/**
 * The next training set: every trainable feedback row plus a class-balanced sample of the base
 * data (texts already in the feedback left out), written to datasets/<run>/ with its lineage.
 */
export async function buildTrainingSet(store: ObjectStore, opts: TrainingSetOptions): Promise<TrainingSet> {
  const all = await readLogAll(store, 'feedback', FeedbackRecordSchema);
  const feedback = trainableFeedback(all.records);
  const taken = new Set(feedback.map((r) => r.text_hash));
  const base = opts.baseData && opts.baseRows > 0 ? await sampleBase(opts.baseData, opts, taken) : { rows: [] as Example[], source: null };

  const rows = [...feedback.map((r) => ({ text: r.text!, label: r.label })), ...base.rows.map((e) => ({ text: e.text, label: e.label! }))];
  const key = `datasets/${opts.runId}/train.jsonl`;
  await store.put(key, toJsonl(rows));
  const feedbackUntil = feedback.reduce((max, r) => (r.time > max ? r.time : max), '1970-01-01T00:00:00.000Z');
  await store.put(
    `datasets/${opts.runId}/lineage.json`,
    `${JSON.stringify(
      {
        run_id: opts.runId,
        rows: rows.length,
        fingerprint: fingerprint(rows),
        feedback: { rows: feedback.length, read: all.records.length, unreadable_lines: all.bad, until: feedbackUntil, holdout: 'texts with isHoldout(text_hash) are excluded' },
        base: { source: base.source, rows: base.rows.length, fingerprint: fingerprint(base.rows), seed: opts.seed ?? 1 },
      },
      null,
      2,
    )}\n`,
  );
  return { key, rows: rows.length, feedback_rows: feedback.length, base_rows: base.rows.length, feedback_until: feedbackUntil };
}

async function sampleBase(source: string, opts: TrainingSetOptions, taken: Set<string>): Promise<{ rows: Example[]; source: string }> {
  const { examples } = await loadDataset(source, { labels: opts.labels });
  const random = mulberry32(opts.seed ?? 1);
  const rows: Example[] = [];
  const perLabel = Math.ceil(opts.baseRows / opts.labels.length);
  for (const label of opts.labels) {
    const pool = examples.filter((e) => e.label === label && !taken.has(textHash(e.text)));
    // A partial Fisher-Yates shuffle: the first perLabel rows are a uniform sample.
    for (let i = 0; i < Math.min(perLabel, pool.length); i++) {
      const j = i + Math.floor(random() * (pool.length - i));
      [pool[i], pool[j]] = [pool[j]!, pool[i]!];
      rows.push(pool[i]!);
    }
  }
  return { rows: rows.slice(0, opts.baseRows), source };
}

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
