import { fieldOptions, fingerprint, loadDataset, stratifiedSplit, textHash, type DataFields, type Example } from '@mlops/data';
import { FeedbackRecordSchema, feedbackTexts, fromTrustedCallers, readLogAll, toJsonl, type FeedbackRecord } from '@mlops/monitoring';
import type { ObjectStore } from '@mlops/storage';

export interface TrainingSetOptions {
  runId: string;
  /** Base data (e.g. IMDB train) sampled beside the feedback, so the model keeps its first domain. */
  baseData: string | undefined;
  baseRows: number;
  /** Where the text and label are in `baseData`. */
  baseFields?: DataFields;
  /** The classes of the model fine-tuned: base rows with another label are bad rows. */
  labels: readonly string[];
  /** Callers whose labels may train (MLOPS_TRUSTED_CALLERS); empty: every caller. */
  trustedCallers?: readonly string[];
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

/** The feedback a retrain may learn from: rows with text, outside the holdout share, from trusted callers. */
export async function trainableFeedback(
  store: ObjectStore,
  trustedCallers: readonly string[],
): Promise<{ records: FeedbackRecord[]; read: number; bad: number }> {
  const all = await readLogAll(store, 'feedback', FeedbackRecordSchema);
  return { records: feedbackTexts(fromTrustedCallers(all.records, trustedCallers), 'train'), read: all.records.length, bad: all.bad };
}

/**
 * The next training set: every trainable feedback row plus a class-balanced sample of the base
 * data (texts already in the feedback left out), written to datasets/<run>/ with its lineage.
 */
export async function buildTrainingSet(store: ObjectStore, opts: TrainingSetOptions): Promise<TrainingSet> {
  const trainable = await trainableFeedback(store, opts.trustedCallers ?? []);
  const feedback = trainable.records;
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
        feedback: {
          rows: feedback.length,
          read: trainable.read,
          unreadable_lines: trainable.bad,
          ...(opts.trustedCallers?.length && { trusted_callers: opts.trustedCallers }),
          until: feedbackUntil,
          holdout: 'texts with isHoldout(text_hash) are excluded',
        },
        base: { source: base.source, rows: base.rows.length, fingerprint: fingerprint(base.rows), seed: opts.seed ?? 1 },
      },
      null,
      2,
    )}\n`,
  );
  return { key, rows: rows.length, feedback_rows: feedback.length, base_rows: base.rows.length, feedback_until: feedbackUntil };
}

async function sampleBase(source: string, opts: TrainingSetOptions, taken: Set<string>): Promise<{ rows: Example[]; source: string }> {
  const { examples } = await loadDataset(source, { ...fieldOptions(opts.baseFields), labels: opts.labels });
  const pool = examples.filter((e) => !taken.has(textHash(e.text)));
  // The "validation" side of a seeded stratified split is a class-balanced sample of the wanted size.
  const { validation } = stratifiedSplit(pool, {
    validationRatio: Math.min(1, opts.baseRows / Math.max(1, pool.length)),
    seed: opts.seed ?? 1,
  });
  return { rows: validation, source };
}
