import { DEFAULT_MAX_LINE_BYTES, splitLines } from '@mlops/data';
import type { ObjectStore } from '@mlops/storage';
import type { z } from 'zod';

/** The monitoring logs, date-partitioned JSONL under `logs/<kind>/date=YYYY-MM-DD/`. */
export type LogKind = 'predictions' | 'feedback';

const DAY_MS = 86_400_000;

/** Object names start with their write time, so a window read skips older objects unread. */
export function logKey(kind: LogKind, time: Date, instance: string, seq: number): string {
  const day = time.toISOString().slice(0, 10);
  return `logs/${kind}/date=${day}/${time.getTime()}-${instance}-${String(seq).padStart(6, '0')}.jsonl`;
}

export function toJsonl(records: readonly object[]): string {
  return records.map((r) => JSON.stringify(r)).join('\n') + '\n';
}

export interface LogWindow {
  since: Date;
  until: Date;
}

export interface LogRead<T> {
  records: T[];
  /** Lines that are not JSON, do not match the schema or are too long: counted and skipped, never fatal. */
  bad: number;
  objects: number;
}

export interface LogReadOptions {
  /** A longer line is a bad one, skipped without being decoded (default 1 MiB; a logged text is at most 20 KB). */
  maxLineBytes?: number;
}

/** Every record whose `time` falls in the window, from the day partitions the window touches. */
export async function readLogWindow<T extends { time: string }>(
  store: ObjectStore,
  kind: LogKind,
  schema: z.ZodType<T>,
  window: LogWindow,
  opts: LogReadOptions = {},
): Promise<LogRead<T>> {
  const result: LogRead<T> = { records: [], bad: 0, objects: 0 };
  const since = window.since.getTime();
  const until = window.until.getTime();
  for (let day = Math.floor(since / DAY_MS) * DAY_MS; day <= until; day += DAY_MS) {
    const prefix = `logs/${kind}/date=${new Date(day).toISOString().slice(0, 10)}/`;
    for (const object of await store.list(prefix)) {
      // An object holds records written before its name's time: one named before the window is all older.
      const written = Number(object.key.slice(prefix.length).split('-')[0]);
      if (Number.isFinite(written) && written < since) continue;
      result.objects++;
      const { records, bad } = await readLogObject(store, object.key, schema, opts);
      result.bad += bad;
      for (const r of records) {
        const time = Date.parse(r.time);
        if (time >= since && time <= until) result.records.push(r);
      }
    }
  }
  return result;
}

/** Every record of a log (e.g. all feedback ever given, to build a training set). */
export async function readLogAll<T>(
  store: ObjectStore,
  kind: LogKind,
  schema: z.ZodType<T>,
  opts: LogReadOptions = {},
): Promise<LogRead<T>> {
  const result: LogRead<T> = { records: [], bad: 0, objects: 0 };
  for (const { key } of await store.list(`logs/${kind}/`)) {
    const { records, bad } = await readLogObject(store, key, schema, opts);
    result.records.push(...records);
    result.bad += bad;
    result.objects++;
  }
  return result;
}

/**
 * One log object's records; bad lines are counted, not fatal. The lines are split from the object's
 * bytes one at a time (no copy of the whole text, nor of a line past `maxLineBytes`).
 */
export async function readLogObject<T>(
  store: ObjectStore,
  key: string,
  schema: z.ZodType<T>,
  opts: LogReadOptions = {},
): Promise<{ records: T[]; bad: number }> {
  const { body } = await store.get(key);
  const records: T[] = [];
  let bad = 0;
  for await (const line of splitLines([body], opts.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES)) {
    if ('tooLong' in line) {
      bad++;
      continue;
    }
    if (line.text.trim() === '') continue;
    const parsed = parseLine(schema, line.text);
    if (parsed) records.push(parsed);
    else bad++;
  }
  return { records, bad };
}

function parseLine<T>(schema: z.ZodType<T>, line: string): T | undefined {
  try {
    const parsed = schema.safeParse(JSON.parse(line));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}
