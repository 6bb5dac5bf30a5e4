import { createHash } from 'node:crypto';
import { fieldOptions, readExamples, textHash, type DataFields } from '@mlops/data';
import { NotFoundError, randomHex, type ObjectInfo, type ObjectStore } from '@mlops/storage';
import { z } from 'zod';
import { BoundedMap } from './bounded-map.ts';
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
  /**
   * Who gave the label: `api-key`, `oidc:<email>` (or `oidc:<sub>`), `anonymous` on an open
   * route, `file:<key>` for an imported file. Absent in records written before it was recorded.
   */
  caller: z.string().optional(),
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

/** The feedback of trusted callers (MLOPS_TRUSTED_CALLERS: names, or prefixes ending in `*`); all of it when no caller is listed. Records from before callers were recorded are not trusted by a list. */
export function fromTrustedCallers(records: readonly FeedbackRecord[], trusted: readonly string[]): FeedbackRecord[] {
  if (trusted.length === 0) return [...records];
  const trusts = (caller: string) => trusted.some((t) => (t.endsWith('*') ? caller.startsWith(t.slice(0, -1)) : caller === t));
  return records.filter((r) => r.caller !== undefined && trusts(r.caller));
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
          caller: `file:${object.key}`,
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

export interface PredictionLookupOptions {
  /** Budget of the predictions kept (estimated bytes, strings included); the oldest are dropped first. Default 32 MiB. */
  maxBytes?: number;
  /** Least time between two listings of the log: unknown ids asked sooner are answered from what was read. Default 1 s. */
  minRelistMs?: number;
  /**
   * How long after the time in its name a log object may still turn up in a listing (a slow put,
   * clocks apart). Objects named longer before a listing are taken as all seen: never listed again,
   * and a day partition that ended before that is not listed again. Default 10 minutes.
   */
  settleMs?: number;
  now?: () => number;
}

const DAY_MS = 86_400_000;
/** A Map entry and its parsed record, beside the strings (a rough, generous figure for V8). */
const RECORD_OVERHEAD_BYTES = 200;

/** Memory a record holds: its strings at two bytes a UTF-16 unit (V8 stores Latin-1 in one), plus a fixed overhead. */
function estimatedBytes(r: PredictionRecord): number {
  const chars =
    r.prediction_id.length +
    r.request_id.length +
    r.time.length +
    r.model_version.length +
    r.label.length +
    r.text_hash.length +
    (r.text?.length ?? 0);
  return RECORD_OVERHEAD_BYTES + 2 * chars;
}

const partitionPrefix = (day: number) => `logs/predictions/date=${new Date(day).toISOString().slice(0, 10)}/`;
/** The write time an object's name starts with (NaN for a name that does not). */
const writtenAt = (key: string) => Number(key.slice(key.lastIndexOf('/') + 1).split('-')[0]);
/** The start of the day partition a key is in. */
const partitionDay = (key: string) => Date.parse(key.slice('logs/predictions/date='.length, 'logs/predictions/date='.length + 10));

/**
 * Finds predictions by id in the prediction log of the last `days` (for feedback on predictions
 * another instance made). Bounded: the predictions kept fit `maxBytes` (the newest kept, so a label
 * for an older one than fits is refused as unknown); an unknown id lists the log at most once per
 * `minRelistMs` (concurrent finds share one listing), only the day partitions that can still
 * change, and reads only objects it has not read (by key and etag): log objects never change.
 */
export class PredictionLookup {
  private readonly byId: BoundedMap<string, PredictionRecord>;
  /** Objects named after the watermark that were read or passed over, by key: their etag. */
  private readonly seen = new Map<string, string>();
  /** Every object named before this (ms) has been listed and read or passed over. */
  private watermark = -Infinity;
  private listedAt = -Infinity;
  private loading: Promise<void> | undefined;
  private readonly maxBytes: number;
  private readonly minRelistMs: number;
  private readonly settleMs: number;
  private readonly now: () => number;

  constructor(
    private readonly store: ObjectStore,
    private readonly days: number,
    opts: PredictionLookupOptions = {},
  ) {
    this.maxBytes = opts.maxBytes ?? 32 * 1024 * 1024;
    this.byId = new BoundedMap({ maxBytes: this.maxBytes, bytesOf: (_id, record) => estimatedBytes(record) });
    this.minRelistMs = opts.minRelistMs ?? 1_000;
    this.settleMs = opts.settleMs ?? 10 * 60_000;
    this.now = opts.now ?? Date.now;
  }

  /** Estimated bytes of the predictions kept; never above `maxBytes`. */
  get bytes(): number {
    return this.byId.bytes;
  }

  /** Predictions kept. */
  get size(): number {
    return this.byId.size;
  }

  async find(ids: readonly string[]): Promise<Map<string, PredictionRecord>> {
    const missing = () => ids.some((id) => !this.byId.has(id));
    if (missing() && this.loading) await this.loading; // a listing under way may bring them
    if (missing() && this.now() - this.listedAt >= this.minRelistMs) {
      this.loading ??= this.load().finally(() => (this.loading = undefined));
      await this.loading;
    }
    return new Map(
      ids.flatMap((id) => {
        const p = this.byId.get(id);
        return p ? [[id, p] as const] : [];
      }),
    );
  }

  private async load(): Promise<void> {
    const started = this.now();
    this.listedAt = started;
    const firstDay = Math.floor((started - this.days * DAY_MS) / DAY_MS) * DAY_MS;
    const fresh: ObjectInfo[] = [];
    for (let day = firstDay; day <= started; day += DAY_MS) {
      if (day + DAY_MS <= this.watermark) continue; // listed after it was complete
      for (const object of await this.store.list(partitionPrefix(day))) {
        if (writtenAt(object.key) < this.watermark || this.seen.get(object.key) === object.etag) continue;
        fresh.push(object);
      }
    }
    // Newest first, as many as could fill the budget (a record takes at least its JSON size); older ones would be dropped at once.
    fresh.sort((a, b) => (writtenAt(b.key) || 0) - (writtenAt(a.key) || 0));
    let size = 0;
    const toRead = fresh.filter((o) => {
      const fits = size < this.maxBytes;
      size += o.size;
      if (!fits) this.seen.set(o.key, o.etag);
      return fits;
    });
    for (const object of toRead.reverse()) {
      try {
        const { records } = await readLogObject(this.store, object.key, PredictionRecordSchema);
        for (const r of records) this.byId.set(r.prediction_id, r);
      } catch (error) {
        if (!(error instanceof NotFoundError)) throw error; // deleted since the listing: nothing to find in it
      }
      this.seen.set(object.key, object.etag);
    }
    this.watermark = Math.max(this.watermark, started - this.settleMs);
    for (const key of this.seen.keys()) if (writtenAt(key) < this.watermark || !(partitionDay(key) >= firstDay)) this.seen.delete(key);
  }
}
