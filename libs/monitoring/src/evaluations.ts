import { randomHex, type ObjectStore } from '@mlops/storage';
import { z } from 'zod';
import type { VersionHealth } from './health.ts';

/** One scheduled evaluation: the time series behind alerts, retrains and the loop's chart. */
const VersionHealthSchema = z.object({
  version: z.string(),
  predictions: z.number(),
  status: z.enum(['healthy', 'stale', 'drifting']),
  reasons: z.array(z.string()),
  accuracy: z
    .object({
      n: z.number(),
      accuracy: z.number(),
      accuracy_ci95: z.tuple([z.number(), z.number()]),
      macro_f1: z.number(),
      per_class: z.record(z.string(), z.object({ precision: z.number(), recall: z.number(), f1: z.number(), support: z.number() })),
    })
    .nullable(),
  drift: z
    .object({
      n: z.number(),
      drifting: z.boolean(),
      measures: z.array(z.object({ name: z.string(), value: z.number(), threshold: z.number(), drifting: z.boolean() })),
    })
    .nullable(),
});

export const EvaluationRecordSchema = z.object({
  time: z.string(),
  model: z.string(),
  window: z.object({ since: z.string(), until: z.string() }),
  status: z.enum(['healthy', 'stale', 'drifting']),
  /** The status of the latest window that had champion traffic (an empty window changes nothing). */
  known_status: z.enum(['healthy', 'stale', 'drifting']).optional(),
  reasons: z.array(z.string()),
  champion: VersionHealthSchema,
  challenger: VersionHealthSchema.optional(),
  feedback: z.object({ rows: z.number(), joined: z.number(), imported_files: z.number(), import_errors: z.array(z.string()) }),
  actions: z.array(z.object({ kind: z.string(), ok: z.boolean(), detail: z.string() })),
});
export type EvaluationRecord = z.infer<typeof EvaluationRecordSchema>;

const prefix = (model: string) => `evaluations/${model}/`;

export async function writeEvaluation(store: ObjectStore, record: EvaluationRecord): Promise<string> {
  const time = new Date(record.time);
  const key = `${prefix(record.model)}date=${record.time.slice(0, 10)}/${time.getTime()}-${randomHex(4)}.json`;
  await store.putIfAbsent(key, `${JSON.stringify(record)}\n`);
  return key;
}

/** Evaluations since a time, oldest first; unreadable records are skipped (and counted). */
export async function readEvaluations(
  store: ObjectStore,
  model: string,
  since = new Date(0),
): Promise<{ records: EvaluationRecord[]; bad: number }> {
  const records: EvaluationRecord[] = [];
  let bad = 0;
  const from = since.toISOString().slice(0, 10);
  for (const { key } of await store.list(prefix(model))) {
    const day = /date=(\d{4}-\d\d-\d\d)\//.exec(key)?.[1];
    if (day === undefined || day < from) continue;
    try {
      const record = EvaluationRecordSchema.parse(JSON.parse((await store.get(key)).body.toString('utf8')));
      if (record.time >= since.toISOString()) records.push(record);
    } catch {
      bad++;
    }
  }
  return { records: records.sort((a, b) => (a.time < b.time ? -1 : 1)), bad };
}

/** The newest evaluation (today's or yesterday's), read without loading the whole series. */
export async function latestEvaluation(store: ObjectStore, model: string, now = new Date()): Promise<EvaluationRecord | undefined> {
  for (const day of [now, new Date(now.getTime() - 86_400_000)]) {
    const keys = (await store.list(`${prefix(model)}date=${day.toISOString().slice(0, 10)}/`)).map((o) => o.key);
    // Names start with the evaluation's time in ms: the numerically largest is the newest.
    const newest = keys.sort((a, b) => msOf(a) - msOf(b)).at(-1);
    if (newest) return EvaluationRecordSchema.parse(JSON.parse((await store.get(newest)).body.toString('utf8')));
  }
  return undefined;
}

function msOf(key: string): number {
  return Number(key.slice(key.lastIndexOf('/') + 1).split('-')[0]);
}

/** The compact form stored per version (drift measures without their per-row inputs). */
export function summarizeHealth(health: VersionHealth): z.infer<typeof VersionHealthSchema> {
  return {
    version: health.version,
    predictions: health.predictions,
    status: health.status,
    reasons: health.reasons,
    accuracy: health.accuracy,
    drift: health.drift && { n: health.drift.n, drifting: health.drift.drifting, measures: health.drift.measures },
  };
}
