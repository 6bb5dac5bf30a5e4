import { createHash } from 'node:crypto';
import { fieldOptions, readExamples, textHash, type DataFields } from '@mlops/data';
import { NotFoundError, randomHex, type ObjectStore } from '@mlops/storage';
import { z } from 'zod';
import { logKey, readLogObject, toJsonl } from './logs.ts';
import { PredictionRecordSchema, type PredictionRecord } from './prediction-log.ts';

/** One label given by a user or a labelled file, joined to predictions by id or by text hash. */
export const FeedbackRecordSchema = z.object({
  /** The duplicate key: the same prediction (or, without an id, the same text) counts once, the latest label wins. */
  feedback_id: z.string(),
  time: z.string(),
  label: z.string(),
  prediction_id: z.string().optional(),
  text_hash: z.string(),
  /** Kept when known: retraining needs it. */
  text: z.string().optional(),
  model_version: z.string().optional(),
  predicted_label: z.string().optional(),
  source: z.enum(['api', 'file']),
});
export type FeedbackRecord = z.infer<typeof FeedbackRecordSchema>;

export function feedbackId(input: { prediction_id?: string; text_hash: string }): string {
  return input.prediction_id !== undefined ? `p:${input.prediction_id}` : `t:${input.text_hash}`;
}

/** Written in the request that carries it (one object per write), so an accepted label is never lost. */
export async function writeFeedback(store: ObjectStore, records: readonly FeedbackRecord[], instance = randomHex(4)): Promise<string> {
  const key = logKey('feedback', new Date(), instance, 0);
  await store.putIfAbsent(key, toJsonl(records));
  return key;
}

/** The latest label per feedback id. */
export function dedupeFeedback(records: readonly FeedbackRecord[]): FeedbackRecord[] {
  const latest = new Map<string, FeedbackRecord>();
  for (const r of records) {
    const seen = latest.get(r.feedback_id);
    if (!seen || seen.time <= r.time) latest.set(r.feedback_id, r);
  }
  return [...latest.values()];
}

/**
 * A fixed share of texts, chosen by hash, is never trained on: promote measures candidates on it.
 * Deterministic, so every job and every instance agrees on which rows are held out.
 */
export function isHoldout(hash: string, share = 0.2): boolean {
  return parseInt(hash.slice(0, 8), 16) / 0x1_0000_0000 < share;
}

/**
 * Labelled texts from feedback, one per text (its latest label): the trainable share for a training
 * set, or the held-out share for judging candidates. Feedback without text is left out.
 */
export function feedbackTexts(records: readonly FeedbackRecord[], share: 'train' | 'holdout', holdoutShare = 0.2): FeedbackRecord[] {
  const latestByText = new Map<string, FeedbackRecord>();
  for (const r of dedupeFeedback(records)) {
    if (r.text === undefined || isHoldout(r.text_hash, holdoutShare) !== (share === 'holdout')) continue;
    const seen = latestByText.get(r.text_hash);
    if (!seen || seen.time <= r.time) latestByText.set(r.text_hash, r);
  }
  return [...latestByText.values()];
}

/** A labelled feedback row next to the prediction it labels. */
export interface LabelledPrediction {
  version: string;
  label: string;
  predicted: string;
  text_hash: string;
}

/**
 * Joins feedback to predictions: by prediction id, else by text hash (every prediction of that
 * text in the window, so champion and challenger each get their own row).
 */
export function joinFeedback(predictions: readonly PredictionRecord[], feedback: readonly FeedbackRecord[]): LabelledPrediction[] {
  const byId = new Map(predictions.map((p) => [p.prediction_id, p]));
  const byHash = new Map<string, PredictionRecord[]>();
  for (const p of predictions) byHash.set(p.text_hash, [...(byHash.get(p.text_hash) ?? []), p]);
  const rows: LabelledPrediction[] = [];
  for (const f of dedupeFeedback(feedback)) {
    if (f.prediction_id !== undefined) {
      // Predict copies version and label into the feedback, so a prediction the log did not sample still counts.
      const p = byId.get(f.prediction_id);
      const version = p?.model_version ?? f.model_version;
      const predicted = p?.label ?? f.predicted_label;
      if (version !== undefined && predicted !== undefined) rows.push({ version, label: f.label, predicted, text_hash: f.text_hash });
    } else {
      for (const p of byHash.get(f.text_hash) ?? [])
        rows.push({ version: p.model_version, label: f.label, predicted: p.label, text_hash: f.text_hash });
    }
  }
  return rows;
}

export interface ImportReport {
  files: number;
  rows: number;
  bad: number;
  errors: { key: string; error: string }[];
}

/**
 * Imports labelled files dropped under `prefix` (JSONL, JSONL.gz or CSV with text and label, or the
 * columns `fields` names) as feedback. A marker per object version makes re-runs import each file once.
 */
export async function importFeedbackFiles(
  store: ObjectStore,
  opts: { prefix: string; labels: readonly string[]; fields?: DataFields },
): Promise<ImportReport> {
  const report: ImportReport = { files: 0, rows: 0, bad: 0, errors: [] };
  for (const object of await store.list(opts.prefix)) {
    const marker = `feedback/imported/${createHash('sha256').update(`${object.key}\n${object.etag}`).digest('hex')}.json`;
    if (await store.head(marker)) continue;
    try {
      const records: FeedbackRecord[] = [];
      const time = new Date().toISOString();
      const reader = readExamples(
        { stream: await store.createReadStream(object.key), name: object.key },
        { ...fieldOptions(opts.fields), labels: opts.labels, requireLabel: true, maxErrorRatio: 1 },
      );
      let next = await reader.next();
      for (; !next.done; next = await reader.next()) {
        const hash = textHash(next.value.text);
        records.push({
          feedback_id: feedbackId({ text_hash: hash }),
          time,
          label: next.value.label!,
          text_hash: hash,
          text: next.value.text,
          source: 'file',
        });
      }
      if (records.length > 0) await writeFeedback(store, records);
      await store.put(marker, JSON.stringify({ key: object.key, etag: object.etag, rows: records.length, bad: next.value.bad, time }));
      report.files++;
      report.rows += records.length;
      report.bad += next.value.bad;
    } catch (error) {
      if (error instanceof NotFoundError) continue; // deleted while listing
      // A broken file is reported and left for a person; the other files still import.
      report.errors.push({ key: object.key, error: (error as Error).message });
    }
  }
  return report;
}

/**
 * Finds predictions by id in the prediction log (for feedback on predictions another instance made).
 * Log objects never change, so each is read once and its ids kept.
 */
export class PredictionLookup {
  private readonly seen = new Set<string>();
  private readonly byId = new Map<string, PredictionRecord>();

  constructor(
    private readonly store: ObjectStore,
    private readonly days: number,
  ) {}

  async find(ids: readonly string[]): Promise<Map<string, PredictionRecord>> {
    if (ids.some((id) => !this.byId.has(id))) await this.load();
    return new Map(
      ids.flatMap((id) => {
        const p = this.byId.get(id);
        return p ? [[id, p] as const] : [];
      }),
    );
  }

  private async load(): Promise<void> {
    const until = new Date();
    const since = new Date(until.getTime() - this.days * 86_400_000);
    for (let day = new Date(since.toISOString().slice(0, 10)); day <= until; day = new Date(day.getTime() + 86_400_000)) {
      for (const { key } of await this.store.list(`logs/predictions/date=${day.toISOString().slice(0, 10)}/`)) {
        if (this.seen.has(key)) continue;
        const { records } = await readLogObject(this.store, key, PredictionRecordSchema);
        for (const r of records) this.byId.set(r.prediction_id, r);
        this.seen.add(key);
      }
    }
  }
}
