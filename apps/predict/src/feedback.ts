import { textHash } from '@mlops/data';
import { feedbackId, type FeedbackRecord } from '@mlops/monitoring';
import { z } from 'zod';
import type { KnownPrediction } from './recent-predictions.ts';

export interface FeedbackSink {
  /** Predictions this instance did not make itself, from the prediction log; absent ids are left out. */
  lookup(ids: string[]): Promise<Map<string, KnownPrediction>>;
  /** Durable before it resolves. */
  write(records: FeedbackRecord[]): Promise<void>;
}

export function feedbackBodySchema(text: z.ZodType<string>, maxItems: number) {
  const item = z
    .strictObject({ prediction_id: z.string().min(1).optional(), text: text.optional(), label: z.string({ error: 'must be a string' }) })
    .refine((i) => (i.prediction_id === undefined) !== (i.text === undefined), 'give exactly one of "prediction_id" or "text"');
  // One item is read as a batch of one, so both forms report problems the same way (items.N.field).
  return z.preprocess(
    (body) => (typeof body === 'object' && body !== null && 'items' in body ? body : { items: [body] }),
    z
      .strictObject({ items: z.array(item).min(1, 'must hold at least one item').max(maxItems, `must hold at most ${maxItems} items`) })
      .transform((b) => b.items),
  );
}
export type FeedbackItem = { prediction_id?: string | undefined; text?: string | undefined; label: string };

/** One bad item of a feedback request: where (`items.N.field`) and what. */
export type FeedbackProblem = { path: string; message: string };

/** Items whose label the model does not have. */
export class UnknownLabelError extends Error {
  readonly code = 'UNKNOWN_LABEL';
  constructor(readonly details: FeedbackProblem[]) {
    super(`unknown label: ${details.map((d) => d.message).join('; ')}`);
    this.name = 'UnknownLabelError';
  }
}

/** Items naming a prediction neither this instance nor the prediction log knows. */
export class UnknownPredictionError extends Error {
  readonly code = 'UNKNOWN_PREDICTION';
  constructor(readonly details: FeedbackProblem[]) {
    super(`unknown prediction id: ${details.map((d) => d.message).join('; ')}`);
    this.name = 'UnknownPredictionError';
  }
}

/**
 * Checks every item before anything is written: an unknown label or prediction id rejects the
 * whole request (an error naming each bad item), so a client can fix and resend without double counting.
 */
export async function acceptFeedback(
  items: FeedbackItem[],
  opts: {
    labels: readonly string[];
    recent: (id: string) => KnownPrediction | undefined;
    sink: FeedbackSink;
    /** Who sends the labels (`callerName`), recorded in each: a setting may trust only some callers to train or judge. */
    caller: string;
  },
): Promise<{ records: FeedbackRecord[]; duplicates: number }> {
  const badLabels = items.flatMap((item, i) =>
    opts.labels.includes(item.label)
      ? []
      : [{ path: `items.${i}.label`, message: `unknown label "${item.label}"; expected one of ${opts.labels.join(', ')}` }],
  );
  if (badLabels.length > 0) throw new UnknownLabelError(badLabels);

  const ids = items.flatMap((i) => (i.prediction_id !== undefined ? [i.prediction_id] : []));
  const known = new Map(
    ids.flatMap((id) => {
      const p = opts.recent(id);
      return p ? [[id, p] as const] : [];
    }),
  );
  const missing = ids.filter((id) => !known.has(id));
  if (missing.length > 0) for (const [id, p] of await opts.sink.lookup(missing)) known.set(id, p);
  const unknown = items.flatMap((item, i) =>
    item.prediction_id !== undefined && !known.has(item.prediction_id)
      ? [{ path: `items.${i}.prediction_id`, message: `unknown prediction id "${item.prediction_id}"` }]
      : [],
  );
  if (unknown.length > 0) throw new UnknownPredictionError(unknown);

  const time = new Date().toISOString();
  const byId = new Map<string, FeedbackRecord>();
  for (const item of items) {
    const prediction = item.prediction_id !== undefined ? known.get(item.prediction_id)! : undefined;
    const hash = prediction?.text_hash ?? textHash(item.text!);
    const record: FeedbackRecord = {
      feedback_id: feedbackId({ ...(item.prediction_id !== undefined && { prediction_id: item.prediction_id }), text_hash: hash }),
      time,
      label: item.label,
      text_hash: hash,
      source: 'api',
      caller: opts.caller,
      ...(item.prediction_id !== undefined && { prediction_id: item.prediction_id }),
      ...((item.text ?? prediction?.text) !== undefined && { text: item.text ?? prediction?.text }),
      ...(prediction && { model_version: prediction.model_version, predicted_label: prediction.label }),
    };
    byId.set(record.feedback_id, record); // the same prediction twice in one request counts once: the last label
  }
  const records = [...byId.values()];
  await opts.sink.write(records);
  return { records, duplicates: items.length - records.length };
}
